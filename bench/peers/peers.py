"""Runs each peer on the same input as ouvrage and prints throughput and the ratio ours/theirs.

XML: thermal studies parsed with lxml (iterparse, the streaming way a careful Python
importer reads them) extracting the same administrative fields and per-building indicators
as ouvrage's reader, versus `ouvrage thermal --repeat N`.
Excel and PDF: the peers' side is measured; ours arrives with the site export (xlsx) and the
invoices (PDF), and the line says so until then.
"""

import argparse
import io
import json
import subprocess
import time

from lxml import etree

ADMIN = {"name", "nom", "postcode", "code_postal", "city", "ville", "citycode", "num_permis"}
INDICATORS = {"O_Bbio_pts_annuel", "O_Cep_annuel", "O_Cep_nr_annuel", "O_SHAB", "O_SREF", "SHAB"}


def lxml_extract(data: bytes) -> dict:
    found = {}
    buildings = {}
    index = None
    for _event, el in etree.iterparse(io.BytesIO(data), events=("end",), resolve_entities=False, no_network=True):
        tag = etree.QName(el).localname
        text = (el.text or "").strip()
        if tag in ("Index", "index") and text.isdigit():
            index = int(text)
        elif tag in ADMIN and text:
            found.setdefault(tag, text)
        elif tag in INDICATORS and text:
            try:
                buildings.setdefault(index, {})[tag] = float(text.replace(",", "."))
            except ValueError:
                pass
        el.clear()
    found["buildings"] = buildings
    return found


def timed(fn, repeat):
    started = time.perf_counter()
    for _ in range(repeat):
        fn()
    return time.perf_counter() - started


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ouvrage", required=True)
    p.add_argument("--repeat", type=int, default=200)
    p.add_argument("files", nargs="+")
    a = p.parse_args()
    contents = [open(f, "rb").read() for f in a.files]
    parsed = a.repeat * len(contents)

    theirs = timed(lambda: [lxml_extract(c) for c in contents], a.repeat)
    out = subprocess.run([a.ouvrage, "thermal", "--repeat", str(a.repeat), *a.files], check=True,
                         capture_output=True, text=True)
    ours = json.loads(out.stdout)["seconds"]
    print(f"XML thermal studies ({len(contents)} files x {a.repeat}):")
    print(f"  lxml iterparse   {parsed / theirs:10.1f} files/s")
    print(f"  ouvrage          {parsed / ours:10.1f} files/s   ratio ours/theirs (throughput) = {theirs / ours:.1f}x")

    # Excel: the same 100,000 rows with openpyxl and XlsxWriter.
    rows = [(f"C{i:05}", f"Chantier {i}", "44000", "Nantes", 1234.5 + i) for i in range(100_000)]
    import openpyxl
    import xlsxwriter

    def with_openpyxl():
        wb = openpyxl.Workbook(write_only=True)
        ws = wb.create_sheet()
        for r in rows:
            ws.append(r)
        wb.save(io.BytesIO())

    def with_xlsxwriter():
        buf = io.BytesIO()
        wb = xlsxwriter.Workbook(buf, {"in_memory": True})
        ws = wb.add_worksheet()
        for i, r in enumerate(rows):
            ws.write_row(i, 0, r)
        wb.close()

    print("Excel export, 100,000 rows:")
    print(f"  openpyxl         {timed(with_openpyxl, 1):10.2f} s")
    print(f"  XlsxWriter       {timed(with_xlsxwriter, 1):10.2f} s")
    print("  ouvrage          not measured yet: arrives with the Mes chantiers Excel export (issue 5)")

    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    def invoice():
        c = canvas.Canvas(io.BytesIO(), pagesize=A4)
        c.drawString(72, 800, "Facture F2026-00042")
        for i in range(20):
            c.drawString(72, 760 - 18 * i, f"Prestation {i}  1 234,56 EUR")
        c.save()

    print("One-page invoice PDF, 100 documents:")
    print(f"  reportlab        {100 / timed(invoice, 100):10.1f} PDF/s")
    print("  ouvrage          not measured yet: arrives with invoices (Factur-X)")


if __name__ == "__main__":
    main()
