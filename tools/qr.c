/*
 * qr.c		QR codes for twofa-admin: a terminal drawing or a PNG file.
 *
 *		Both start from one libqrencode symbol (error correction level
 *		M) and wipe it before freeing it: it encodes a TOTP secret.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <png.h>
#include <qrencode.h>

#include "qr.h"

/* Half blocks: one character cell shows two modules, one above the other. */
#define BLOCK_FULL	"\xe2\x96\x88"	/* U+2588 both dark */
#define BLOCK_UPPER	"\xe2\x96\x80"	/* U+2580 top dark */
#define BLOCK_LOWER	"\xe2\x96\x84"	/* U+2584 bottom dark */
#define ANSI_BLACK_ON_WHITE	"\033[30;107m"
#define ANSI_RESET		"\033[0m"

static QRcode *encode(char const *text)
{
	return QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
}

static void encoded_free(QRcode *qr)
{
	OPENSSL_cleanse(qr->data, (size_t) qr->width * (size_t) qr->width);
	QRcode_free(qr);
}

/** Is the module at (x, y) dark?  Coordinates include the quiet zone, which is light. */
static bool dark(QRcode const *qr, int x, int y)
{
	x -= QR_QUIET_ZONE;
	y -= QR_QUIET_ZONE;
	if ((x < 0) || (y < 0) || (x >= qr->width) || (y >= qr->width)) return false;
	return (qr->data[y * qr->width + x] & 1) != 0;
}

twofa_rcode_t qr_print_terminal(FILE *out, char const *text)
{
	QRcode	*qr;
	int	size, x, y;

	if (!(qr = encode(text))) return TWOFA_ERR_NO_MEMORY;
	size = qr->width + 2 * QR_QUIET_ZONE;

	for (y = 0; y < size; y += 2) {
		fputs(ANSI_BLACK_ON_WHITE, out);
		for (x = 0; x < size; x++) {
			bool top = dark(qr, x, y), bottom = dark(qr, x, y + 1);

			if (top && bottom) fputs(BLOCK_FULL, out);
			else if (top) fputs(BLOCK_UPPER, out);
			else if (bottom) fputs(BLOCK_LOWER, out);
			else fputc(' ', out);
		}
		fputs(ANSI_RESET "\n", out);
	}
	encoded_free(qr);

	return ferror(out) ? TWOFA_ERR_IO : TWOFA_OK;
}

/** Rows of the PNG, one at a time; libpng longjmps back here on error. */
static twofa_rcode_t png_rows(png_structp png, png_infop info, QRcode const *qr, uint8_t *row)
{
	int size = qr->width + 2 * QR_QUIET_ZONE;
	int pixels = size * QR_PNG_SCALE;
	int x, y;

	png_set_IHDR(png, info, pixels, pixels, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (y = 0; y < pixels; y++) {
		for (x = 0; x < pixels; x++) {
			row[x] = dark(qr, x / QR_PNG_SCALE, y / QR_PNG_SCALE) ? 0x00 : 0xff;
		}
		png_write_row(png, row);
	}
	png_write_end(png, NULL);

	return TWOFA_OK;
}

twofa_rcode_t qr_write_png(FILE *fp, char const *text)
{
	QRcode			*qr;
	png_structp		png;
	png_infop		info = NULL;
	uint8_t * volatile	row = NULL;
	volatile twofa_rcode_t	rc = TWOFA_ERR_NO_MEMORY;

	if (!(qr = encode(text))) return TWOFA_ERR_NO_MEMORY;

	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	if (!png) goto done;
	if (!(info = png_create_info_struct(png))) goto done;
	if (!(row = malloc((size_t) (qr->width + 2 * QR_QUIET_ZONE) * QR_PNG_SCALE))) goto done;

	if (setjmp(png_jmpbuf(png))) {
		rc = TWOFA_ERR_IO;	/* libpng has printed why */
		goto done;
	}
	png_init_io(png, fp);
	rc = png_rows(png, info, qr, row);
	if ((rc == TWOFA_OK) && (fflush(fp) != 0)) rc = TWOFA_ERR_IO;

done:
	if (png) png_destroy_write_struct(&png, info ? &info : NULL);
	free(row);
	encoded_free(qr);
	return rc;
}
