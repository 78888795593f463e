"""Runs each peer on the same input as ouvrage and prints throughput and the ratio ours/theirs.

XML: thermal studies parsed with lxml (iterparse, the streaming way a careful Python
importer reads them) extracting the same administrative fields and per-building indicators
as ouvrage's reader, versus `ouvrage thermal --repeat N`.
Excel: the site export's 19 columns (back office) and 100,000 rows, the same values as
`crates/ouvrage/src/bench/xlsx.rs` (`row`), with a bold frozen header, an autofilter, column
widths and dd/mm/yyyy date cells, written by openpyxl (write-only) and XlsxWriter (constant
memory) versus ouvrage's writer (`ouvrage bench --only xlsx_writer`, no database nor HTTP).
PDF: the peer's side is measured; ours arrives with the invoices, and the line says so.
"""

import argparse
import datetime
import io
import json
import os
import subprocess
import tempfile
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


# The export's columns (back office): header, kind, width.
COLUMNS = [
    ("Code client", "text", 11), ("Client", "text", 28), ("Nom", "text", 34), ("Type", "text", 11),
    ("Numéro", "text", 8), ("Voie", "text", 30), ("Code postal", "text", 11), ("Commune", "text", 24),
    ("Code INSEE", "text", 11), ("Conducteur de travaux", "text", 24), ("Type d'opération", "text", 16),
    ("Phase", "text", 11), ("Statut", "text", 12), ("Date d'intervention prévue", "date", 15),
    ("Date d'intervention réelle", "date", 15), ("Permis de construire", "text", 24),
    ("Maître d'ouvrage", "text", 30), ("Logements", "int", 11), ("Archivé", "text", 9),
]
ROWS = 100_000


def export_row(i):
    """Row i, as crates/ouvrage/src/bench/xlsx.rs `row` gives it to our writer."""
    client = i % 2000 + 1
    day = datetime.date(2026, 1, 1) + datetime.timedelta(days=i % 365)
    done = i % 2 == 0
    return [
        f"C{client:05}", f"Maisons de l'Atlantique {client}", f"Maison Perrin — lot {i}", "Chantier",
        str(i % 150 + 1), "rue des Lilas", "44000", "Nantes", "44109", "Julien Lefèvre", "Individuel", "Travaux",
        "Réalisé" if done else "Planifié", day, day if done else None, f"PC 044 109 25 A{i % 10000:04}",
        "M. et Mme Perrin", 1, "Non",
    ]


def excel(ouvrage):
    import openpyxl
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    import xlsxwriter

    rows = [export_row(i) for i in range(ROWS)]
    out = tempfile.mkdtemp(prefix="ouvrage-peers-")

    def with_openpyxl():
        wb = openpyxl.Workbook(write_only=True)
        ws = wb.create_sheet("Chantiers")
        for n, (_, _, width) in enumerate(COLUMNS, start=1):
            ws.column_dimensions[get_column_letter(n)].width = width
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{ROWS + 1}"
        bold = Font(bold=True)
        header = []
        for title, _, _ in COLUMNS:
            c = WriteOnlyCell(ws, value=title)
            c.font = bold
            header.append(c)
        ws.append(header)
        for r in rows:
            cells = list(r)
            for k in (13, 14):
                if cells[k] is not None:
                    c = WriteOnlyCell(ws, value=cells[k])
                    c.number_format = "dd/mm/yyyy"
                    cells[k] = c
            ws.append(cells)
        wb.save(os.path.join(out, "openpyxl.xlsx"))

    def with_xlsxwriter():
        wb = xlsxwriter.Workbook(os.path.join(out, "xlsxwriter.xlsx"), {"constant_memory": True})
        ws = wb.add_worksheet("Chantiers")
        bold = wb.add_format({"bold": True})
        date = wb.add_format({"num_format": "dd/mm/yyyy"})
        for n, (title, _, width) in enumerate(COLUMNS):
            ws.set_column(n, n, width)
            ws.write_string(0, n, title, bold)
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, ROWS, len(COLUMNS) - 1)
        for i, r in enumerate(rows, start=1):
            for n, v in enumerate(r):
                if v is None:
                    continue
                if isinstance(v, datetime.date):
                    ws.write_datetime(i, n, v, date)
                elif isinstance(v, int):
                    ws.write_number(i, n, v)
                else:
                    ws.write_string(i, n, v)
        wb.close()

    theirs_openpyxl = timed(with_openpyxl, 1)
    theirs_xlsxwriter = timed(with_xlsxwriter, 1)
    with tempfile.NamedTemporaryFile(suffix=".json") as report:
        subprocess.run([ouvrage, "bench", "--scale", "tiny", "--only", "xlsx_writer", "--json", report.name],
                       check=True, capture_output=True, text=True)
        ours = json.load(open(report.name))["xlsx_writer"]["seconds"]
    print(f"Excel export, {ROWS:,} rows x {len(COLUMNS)} columns:")
    print(f"  openpyxl         {theirs_openpyxl:10.2f} s   ratio ours/theirs (speed) = {theirs_openpyxl / ours:.1f}x")
    print(f"  XlsxWriter       {theirs_xlsxwriter:10.2f} s   ratio ours/theirs (speed) = {theirs_xlsxwriter / ours:.1f}x")
    print(f"  ouvrage          {ours:10.2f} s")
    for name in ("openpyxl.xlsx", "xlsxwriter.xlsx"):
        os.remove(os.path.join(out, name))
    os.rmdir(out)


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

    excel(a.ouvrage)

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
