"""Entry point of the twin's moto_server: load the extension, then run moto's own server.

Usage: python twin/moto/run.py -H 127.0.0.1 -p PORT   (same arguments as moto_server)
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import twin_moto  # noqa: E402

twin_moto.install()

from moto.server import main  # noqa: E402

if __name__ == "__main__":
    main(sys.argv[1:])
