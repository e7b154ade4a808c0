/*
 * qr.h		QR codes for twofa-admin totp enroll: drawn on a terminal, or
 *		written as a PNG file.  libqrencode makes the symbol (level M),
 *		libpng writes the file.
 *
 *		The text is an otpauth:// URI holding a TOTP secret, so the
 *		symbol's modules are wiped before they are freed.
 */
#ifndef TWOFA_QR_H
#define TWOFA_QR_H

#include <stdio.h>
#include "../rlm_twofa/twofa.h"

#define QR_QUIET_ZONE	4	//!< modules of light border on each side (ISO/IEC 18004)
#define QR_PNG_SCALE	8	//!< pixels per module in a PNG

/** Draw text as a QR code on out with Unicode half blocks (two modules per
 *  character cell, vertically), black on white forced with ANSI colours so
 *  that a dark terminal theme does not invert it.
 *  @return TWOFA_OK, TWOFA_ERR_NO_MEMORY (libqrencode failed), TWOFA_ERR_IO.
 */
twofa_rcode_t qr_print_terminal(FILE *out, char const *text);

/** Write text as a QR code to fp as an 8-bit greyscale PNG, QR_PNG_SCALE
 *  pixels per module with a QR_QUIET_ZONE border.  fp stays open.
 *  @return TWOFA_OK, TWOFA_ERR_NO_MEMORY, TWOFA_ERR_IO.
 */
twofa_rcode_t qr_write_png(FILE *fp, char const *text);

#endif
