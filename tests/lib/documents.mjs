// documents.mjs — small valid documents made by the tests themselves (no binary blobs in the tree): a PDF
// written byte by byte with a correct cross-reference table, and ZIP-based ones (Office Open XML, OpenDocument,
// and look-alikes that must be refused) written by Python's zipfile.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

// A one-page PDF 1.4 with a correct cross-reference table (offsets counted as it is written).
export function tinyPdf(text = 'Staffroom') {
  const objs = ['<< /Type /Catalog /Pages 2 0 R >>', '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    null, '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>'];
  const stream = `BT /F1 12 Tf 20 50 Td (${text}) Tj ET`;
  objs[3] = `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`;
  let out = '%PDF-1.4\n%\xe2\xe3\xcf\xd3\n';
  const offsets = [];
  objs.forEach((o, i) => { offsets.push(Buffer.byteLength(out, 'latin1')); out += `${i + 1} 0 obj\n${o}\nendobj\n`; });
  const xref = Buffer.byteLength(out, 'latin1');
  out += `xref\n0 ${objs.length + 1}\n0000000000 65535 f \n`;
  for (const off of offsets) out += `${String(off).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objs.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

// The ZIP-based documents, written by Python's zipfile into dir; returns {name: Buffer}.
export function documentZips(dir) {
  const script = String.raw`
import sys, zipfile, os
d = sys.argv[1]
CT = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/%s" ContentType="%s"/></Types>'
RELS = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="%s"/></Relationships>'
def ooxml(name, part, ctype, body, extra=None):
    with zipfile.ZipFile(os.path.join(d, name), 'w', zipfile.ZIP_DEFLATED) as z:
        z.writestr('[Content_Types].xml', CT % (part, ctype))
        z.writestr('_rels/.rels', RELS % part)
        z.writestr(part, body)
        if extra: extra(z)
W = 'application/vnd.openxmlformats-officedocument.'
ooxml('doc.docx', 'word/document.xml', W + 'wordprocessingml.document.main+xml', '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Lesson plan</w:t></w:r></w:p></w:body></w:document>')
ooxml('deck.pptx', 'ppt/presentation.xml', W + 'presentationml.presentation.main+xml', '<p:presentation xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"/>')
ooxml('book.xlsx', 'xl/workbook.xml', W + 'spreadsheetml.sheet.main+xml', '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>')
ooxml('macro.docm', 'word/document.xml', 'application/vnd.ms-word.document.macroEnabled.main+xml', '<w:document/>')
# the main part named in [Content_Types].xml is absent
with zipfile.ZipFile(os.path.join(d, 'nomain.docx'), 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('[Content_Types].xml', CT % ('word/document.xml', W + 'wordprocessingml.document.main+xml'))
    z.writestr('_rels/.rels', RELS % 'word/document.xml')
def bomb(z):
    with z.open('word/media/filler.bin', 'w') as f:
        block = bytes(1 << 20)
        for _ in range(40): f.write(block)
ooxml('bomb.docx', 'word/document.xml', W + 'wordprocessingml.document.main+xml', '<w:document/>', bomb)
def odf(name, mimetype):
    with zipfile.ZipFile(os.path.join(d, name), 'w', zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo('mimetype'), mimetype, compress_type=zipfile.ZIP_STORED)
        z.writestr('META-INF/manifest.xml', '<?xml version="1.0" encoding="UTF-8"?>\n<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="%s"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>' % mimetype)
        z.writestr('content.xml', '<?xml version="1.0" encoding="UTF-8"?>\n<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" office:version="1.2"><office:body/></office:document-content>')
O = 'application/vnd.oasis.opendocument.'
odf('text.odt', O + 'text')
odf('slides.odp', O + 'presentation')
odf('sheet.ods', O + 'spreadsheet')
odf('drawing.odg', O + 'graphics')
with zipfile.ZipFile(os.path.join(d, 'plain.zip'), 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('readme.txt', 'just some files\n' * 50)
    z.writestr('notes/plan.md', '# a plan\n')
`;
  execFileSync('python3', ['-c', script, dir]);
  const out = {};
  for (const f of fs.readdirSync(dir)) out[f] = fs.readFileSync(path.join(dir, f));
  return out;
}
