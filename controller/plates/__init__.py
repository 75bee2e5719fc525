"""Number plates: formats and look-alike correction, voting, and the OCR reader (ANPR).

`formats` and `voting` are pure (no I/O); `ocr`, `locate` and `reader` wrap the PP-OCR
models that the rapidocr wheel ships, run through onnxruntime, imported only when plates
are read so that a site without plates never loads them.
"""
