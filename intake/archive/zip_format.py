"""The zip records `zip_reader` reads and `zip_writer` writes (PKWARE's APPNOTE, as zipfile packs
them): local header, central-directory entry, end records (zip64's too) and the zip64 extra."""

from __future__ import annotations

import struct

LOCAL = struct.Struct("<4s2B4HL2L2H")
LOCAL_SIGNATURE = b"PK\x03\x04"
CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
CENTRAL_SIGNATURE = b"PK\x01\x02"
END = struct.Struct("<4s4H2LH")
END_SIGNATURE = b"PK\x05\x06"
END64 = struct.Struct("<4sQ2H2L4Q")
END64_SIGNATURE = b"PK\x06\x06"
LOCATOR = struct.Struct("<4sLQL")
LOCATOR_SIGNATURE = b"PK\x06\x07"
ZIP64_EXTRA = 0x0001
