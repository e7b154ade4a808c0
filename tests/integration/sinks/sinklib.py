"""sinklib.py: what the test sinks share: start serving once the test can find them."""
import os


def serve(srv, record, port_file):
    """Create the record file, say the port (written whole, then renamed, so a
    reader never sees half a number), and serve until killed."""
    open(record, "a").close()
    with open(port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.replace(port_file + ".tmp", port_file)
    srv.serve_forever()
