#!/usr/bin/env python3
"""signalling_docprobe_seeds.py — writes the hand-made seed inputs of tests/fuzz/signalling_docprobe.c as
tests/fuzz/corpus/signalling_docprobe/seed_*: a one-page PDF (with a cross-reference table), one whose
startxref names a cross-reference stream, a DOCX, an ODT, and a ZIP that is neither — each under the
4 KiB the fuzzer feeds. Run from anywhere."""
import io, os, zipfile

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus', 'signalling_docprobe')


def pdf(xref_stream=False):
    out = b'%PDF-1.5\n'
    offsets = []
    for body in (b'<< /Type /Catalog /Pages 2 0 R >>', b'<< /Type /Pages /Kids [] /Count 0 >>'):
        offsets.append(len(out))
        out += b'%d 0 obj\n%s\nendobj\n' % (len(offsets), body)
    xref = len(out)
    if xref_stream:
        out += b'3 0 obj\n<< /Type /XRef /Size 4 /W [1 2 1] /Length 0 >>\nstream\n\nendstream\nendobj\n'
    else:
        out += b'xref\n0 3\n0000000000 65535 f \n' + b''.join(b'%010d 00000 n \n' % o for o in offsets)
        out += b'trailer\n<< /Size 3 /Root 1 0 R >>\n'
    return out + b'startxref\n%d\n%%%%EOF\n' % xref


def zipped(entries):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED) as z:
        for name, text in entries:
            z.writestr(zipfile.ZipInfo(name), text, compress_type=zipfile.ZIP_STORED if name == 'mimetype' else zipfile.ZIP_DEFLATED)
    return buf.getvalue()


MAIN = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml'
seeds = {
    'seed_pdf': pdf(),
    'seed_pdf_xref_stream': pdf(True),
    'seed_docx': zipped([('[Content_Types].xml', '<Types><Override PartName="/word/document.xml" ContentType="%s"/></Types>' % MAIN),
                         ('word/document.xml', '<w:document><w:body/></w:document>')]),
    'seed_odt': zipped([('mimetype', 'application/vnd.oasis.opendocument.text'), ('META-INF/manifest.xml', '<manifest/>'),
                        ('content.xml', '<office:document-content/>')]),
    'seed_zip': zipped([('readme.txt', 'hello\n')]),
}
os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    assert len(data) <= 4096, name
    with open(os.path.join(OUT, name), 'wb') as f:
        f.write(data)
