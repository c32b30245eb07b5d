"""The archive as FHIR R4 (R4B) resources, for the clinic's electronic health record.

`resources.py` maps the archive's rows and the forms' text to resources (plain dicts, no
Flask, no database); `export.py` walks the archive and writes them as FHIR Bulk Data NDJSON
with the sealed PDFs beside them; `verify.py` checks such a folder later.
"""
