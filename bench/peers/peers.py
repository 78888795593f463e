"""Runs each peer on the same input as ouvrage and prints throughput and the ratio ours/theirs.

XML: thermal studies parsed with lxml (iterparse, the streaming way a careful Python
importer reads them) extracting the same administrative fields and per-building indicators
as ouvrage's reader, versus `ouvrage thermal --repeat N`.
Excel: the site export's 19 columns (back office) and 100,000 rows, the same values as
`crates/ouvrage/src/bench/xlsx.rs` (`row`), with a bold frozen header, an autofilter, column
widths and dd/mm/yyyy date cells, written by openpyxl (write-only) and XlsxWriter (constant
memory) versus ouvrage's writer (`ouvrage bench --only xlsx_writer`, no database nor HTTP).
Invoice PDF: the sample invoice of `crates/typeset/src/sample.rs` (same texts, lines and
amounts: `SAMPLE_INVOICE`) laid out by reportlab's platypus with an embedded TrueType font,
versus ouvrage-typeset's typst renderer (`--example invoices`, PDF/A-3b, fonts embedded).
"""

import argparse
import datetime
import io
import json
import os
import resource
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


PEERS = ["xml", "excel", "invoice"]


def xml(ouvrage, files, repeat):
    contents = [open(f, "rb").read() for f in files]
    parsed = repeat * len(contents)

    theirs = timed(lambda: [lxml_extract(c) for c in contents], repeat)
    out = subprocess.run([ouvrage, "thermal", "--repeat", str(repeat), *files], check=True,
                         capture_output=True, text=True)
    ours = json.loads(out.stdout)["seconds"]
    print(f"XML thermal studies ({len(contents)} files x {repeat}):")
    print(f"  lxml iterparse   {parsed / theirs:10.1f} files/s")
    print(f"  ouvrage          {parsed / ours:10.1f} files/s   ratio ours/theirs (throughput) = {theirs / ours:.1f}x")


# The sample invoice of crates/typeset/src/sample.rs (`sample_invoice`): the same texts, lines and
# amounts, for reportlab to draw. Keep them in step. Quantities in thousandths, prices in cents,
# VAT rates in basis points, as the Rust side holds them.
SAMPLE_INVOICE = {
    "number": "F2026-00042",
    "issue_date": "23/11/2026",
    "due_date": "23/12/2026",
    "seller": {
        "name": "Atlantique Thermique",
        "address": ["12 rue des Forges", "ZA de la Chantrerie", "44300 Nantes"],
        "contact": ["Tél. 02 40 12 34 56", "facturation@atlantique-thermique.fr"],
        "legal": "Atlantique Thermique SAS au capital de 50\u202f000\u00a0€ · RCS Nantes 852\u00a0147\u00a0963 · "
                 "SIRET 852\u00a0147\u00a0963\u00a000027 · TVA FR32852147963",
        "iban": "FR76 3000 4000 0312 3456 7890 143",
        "bic": "BNPAFRPPXXX",
        "insurance": "SMABTP, contrat n° 123456789, travaux réalisés en France métropolitaine.",
    },
    "buyer": {
        "name": "SCI Les Hauts de Loire",
        "address": ["Mme Claire Perrin", "8 boulevard Guist'hau", "44000 Nantes"],
        "ids": ["SIREN 501\u00a0234\u00a0567", "N° TVA FR61501234567"],
        "reference": "C00217",
    },
    "subject": "Remplacement de chaudière par une pompe à chaleur — maison Perrin",
    "delivery": ["Chantier Perrin", "27 rue des Lilas", "44240 La Chapelle-sur-Erdre"],
    "lines": [
        ("Étude thermique réglementaire RE2020\nMaison individuelle, 1 bâtiment", 1000, "forfait", 85_000, 2000),
        ("Test d'étanchéité à l'air en fin de chantier", 1000, "u", 42_000, 2000),
        ("Pompe à chaleur air/eau 8 kW\nFourniture, unité extérieure et module hydraulique", 1000, "u", 689_000, 550),
        ("Pose et mise en service de la pompe à chaleur", 12_000, "h", 5_800, 550),
        ("Calorifugeage du réseau de chauffage", 18_500, "m", 1_420, 1000),
        ("Radiateurs basse température, fourniture et pose", 6_000, "u", 31_250, 1000),
        ("Dépose et évacuation de l'ancienne chaudière fioul", 1000, "forfait", 28_000, 1000),
        ("Déplacements", 3_000, "u", 4_500, 2000),
    ],
    "payment_terms": "30 jours à compter de la date de facture, par virement",
    "mentions": [
        "Catégorie de l'opération : prestation de services.",
        "En cas de retard de paiement, pénalités au taux directeur de la Banque centrale européenne majoré de "
        "10 points, exigibles dès le lendemain de l'échéance (art. L441-10 du Code de commerce).",
        "Indemnité forfaitaire pour frais de recouvrement due en cas de retard de paiement : 40\u00a0€ "
        "(art. L441-10 et D441-5 du Code de commerce).",
        "Pas d'escompte pour paiement anticipé.",
    ],
}


def div_round(n, d):
    """n / d rounded half away from zero, in integers (as the Rust side)."""
    q = (abs(n) + d // 2) // d
    return q if n >= 0 else -q


def group(n):
    return f"{n:,}".replace(",", "\u202f")


def euros(cents):
    sign = "-" if cents < 0 else ""
    return f"{sign}{group(abs(cents) // 100)},{abs(cents) % 100:02}\u00a0€"


def quantity(milli):
    whole, frac = divmod(abs(milli), 1000)
    frac = f"{frac:03}".rstrip("0")
    return ("-" if milli < 0 else "") + group(whole) + ("," + frac if frac else "")


def rate(bp):
    frac = f"{bp % 100:02}".rstrip("0")
    return f"{bp // 100}" + ("," + frac if frac else "") + "\u00a0%"


def reportlab_invoice(inv):
    """One invoice drawn with reportlab's platypus (flowing table, page x / y footer), as a Python
    billing tool would; user text escaped for Paragraph's mini-markup. Vera (shipped with
    reportlab, embedded) has no narrow no-break space: a no-break space stands in for it."""
    from xml.sax.saxutils import escape

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas as pdfcanvas
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    def t(text):
        return escape(text.replace("\u202f", "\u00a0"))

    def lines_of(items):
        return "<br/>".join(t(i) for i in items)

    ink, muted, rule, band, accent = (colors.HexColor(c) for c in ("#1f2933", "#5f6b76", "#b8c1c9", "#eef1f4", "#1d4e89"))
    base = ParagraphStyle("base", fontName="Vera", fontSize=8.5, leading=11, textColor=ink)
    small = ParagraphStyle("small", parent=base, fontSize=7, leading=9, textColor=muted)
    right = ParagraphStyle("right", parent=base, alignment=2)
    title = ParagraphStyle("title", parent=base, fontName="Vera-Bold", fontSize=22, leading=26, alignment=2)
    name = ParagraphStyle("name", parent=base, fontName="Vera-Bold", fontSize=14, leading=18, textColor=accent)
    bold = ParagraphStyle("bold", parent=base, fontName="Vera-Bold")
    label = ParagraphStyle("label", parent=small, fontName="Vera-Bold")

    # Amounts, exactly as the Rust side computes them.
    amounts, by_rate = [], {}
    for _desc, qty, _unit, price, bp in inv["lines"]:
        amount = div_round(qty * price, 1000)
        amounts.append(amount)
        by_rate[bp] = by_rate.get(bp, 0) + amount
    vat = [(bp, b, div_round(b * bp, 10_000)) for bp, b in sorted(by_rate.items(), reverse=True)]
    excl, tax = sum(amounts), sum(v for _, _, v in vat)

    seller, buyer = inv["seller"], inv["buyer"]

    class NumberedCanvas(pdfcanvas.Canvas):
        """reportlab's recipe for `Page x / y`: keep each page's state, draw the footers at save."""

        def __init__(self, *args, **kwargs):
            kwargs["initialFontName"] = "Vera"
            super().__init__(*args, **kwargs)
            self._pages = []

        def showPage(self):
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self.setFont("Vera", 7)
                self.setFillColor(muted)
                self.setStrokeColor(rule)
                self.line(17 * mm, 18 * mm, A4[0] - 17 * mm, 18 * mm)
                self.drawString(17 * mm, 14 * mm, seller["legal"].replace("\u202f", "\u00a0"))
                self.drawRightString(A4[0] - 17 * mm, 14 * mm, f"Page {self._pageNumber} / {total}")
                super().showPage()
            super().save()

    header = Table([[
        [Paragraph(t(seller["name"]), name), Paragraph(lines_of(seller["address"] + seller["contact"]), base)],
        [Paragraph("FACTURE", title), Paragraph(f"<b>N° {t(inv['number'])}</b>", right),
         Paragraph(f"Date {t(inv['issue_date'])}<br/>Échéance {t(inv['due_date'])}<br/>"
                   f"Réf. client {t(buyer['reference'])}", right)],
    ]], colWidths=[110 * mm, 66 * mm])
    header.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))

    left = [Paragraph("OBJET", label), Paragraph(t(inv["subject"]), base), Spacer(1, 3 * mm),
            Paragraph("ADRESSE DU CHANTIER", label), Paragraph(lines_of(inv["delivery"]), base)]
    client = [Paragraph("CLIENT", label), Paragraph(t(buyer["name"]), bold), Paragraph(lines_of(buyer["address"]), base),
              Paragraph(lines_of(buyer["ids"]), small)]
    parties = Table([[left, client]], colWidths=[94 * mm, 82 * mm])
    parties.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOX", (1, 0), (1, 0), 0.5, rule),
                                 ("LEFTPADDING", (0, 0), (0, 0), 0)]))

    rows = [[Paragraph(f"<b>{h}</b>", base) for h in ("Désignation", "Qté", "Unité", "P.U. HT", "TVA", "Montant HT")]]
    for (desc, qty, unit, price, bp), amount in zip(inv["lines"], amounts):
        first, *details = desc.split("\n")
        cell = t(first) + "".join(f"<br/><font size=7 color='#5f6b76'>{t(d)}</font>" for d in details)
        rows.append([Paragraph(cell, base), t(quantity(qty)), t(unit), t(euros(price)), t(rate(bp)), t(euros(amount))])
    table = Table(rows, colWidths=[86 * mm, 14 * mm, 16 * mm, 22 * mm, 14 * mm, 24 * mm], repeatRows=1)
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), "Vera", 8.5), ("BACKGROUND", (0, 0), (-1, 0), band),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, ink), ("LINEBELOW", (0, 1), (-1, -1), 0.3, rule),
        ("ALIGN", (1, 0), (1, -1), "RIGHT"), ("ALIGN", (3, 0), (-1, -1), "RIGHT"), ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))

    recap = Table([["Taux", "Base HT", "Montant TVA"]] + [[t(rate(bp)), t(euros(b)), t(euros(v))] for bp, b, v in vat])
    recap.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), "Vera", 8.5), ("TEXTCOLOR", (0, 0), (-1, 0), muted),
                               ("ALIGN", (0, 0), (-1, -1), "RIGHT"), ("LINEBELOW", (0, 0), (-1, 0), 0.4, rule)]))
    totals = Table([["Total HT", t(euros(excl))], ["Total TVA", t(euros(tax))], ["Net à payer TTC", t(euros(excl + tax))]],
                   colWidths=[40 * mm, 30 * mm])
    totals.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), "Vera", 8.5), ("FONT", (0, 2), (-1, 2), "Vera-Bold", 10),
                                ("BACKGROUND", (0, 2), (-1, 2), band), ("LINEABOVE", (0, 2), (-1, 2), 0.6, ink),
                                ("ALIGN", (1, 0), (1, -1), "RIGHT")]))
    summary = Table([[[Paragraph("RÉCAPITULATIF TVA", label), recap], totals]], colWidths=[106 * mm, 70 * mm])
    summary.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (0, 0), 0)]))

    payment = [f"Conditions de paiement : {inv['payment_terms']}", f"Date d'échéance : {inv['due_date']}",
               f"IBAN {seller['iban'].replace(' ', chr(0xa0))} · BIC {seller['bic']}"]
    mentions = inv["mentions"] + [f"Assurance décennale : {seller['insurance']}"]

    story = [header, Spacer(1, 7 * mm), parties, Spacer(1, 7 * mm), table, Spacer(1, 4 * mm), summary,
             Spacer(1, 6 * mm), Paragraph("RÈGLEMENT", label), Paragraph(lines_of(payment), base), Spacer(1, 4 * mm)]
    story += [Paragraph(t(m), small) for m in mentions]

    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=17 * mm, rightMargin=17 * mm, topMargin=16 * mm,
                            bottomMargin=24 * mm, title=f"Facture {inv['number']}", author=seller["name"])
    doc.build(story, canvasmaker=NumberedCanvas)
    return out.getvalue()


def nth_invoice(n):
    """The n-th invoice of the run, as `nth_invoice` in crates/typeset/examples/invoices.rs: its own
    number and hours of installation (typst memoizes, so the very same invoice again would cost it
    only its PDF export)."""
    invoice = dict(SAMPLE_INVOICE)
    invoice["number"] = f"F2026-{100 + n:05}"
    lines = list(invoice["lines"])
    desc, _qty, unit, price, bp = lines[3]
    lines[3] = (desc, (8 + n % 9) * 1000, unit, price, bp)
    invoice["lines"] = lines
    return invoice


def invoice_pdf(invoices, repeat):
    import reportlab
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    # Embedded TrueType fonts (the 14 standard fonts would not be embedded, which PDF/A forbids).
    pdfmetrics.registerFont(TTFont("Vera", "Vera.ttf"))
    pdfmetrics.registerFont(TTFont("Vera-Bold", "VeraBd.ttf"))
    addMapping("Vera", 0, 0, "Vera")
    addMapping("Vera", 1, 0, "Vera-Bold")

    first = reportlab_invoice(SAMPLE_INVOICE)
    batch = [nth_invoice(n) for n in range(repeat)]
    started, cpu_started = time.perf_counter(), time.process_time()
    for invoice in batch:
        reportlab_invoice(invoice)
    theirs, theirs_cpu = time.perf_counter() - started, time.process_time() - cpu_started
    # CPU time as well as wall time: on a shared machine the CPU time is the steadier measure of the
    # work. Ours counts the child process whole (set-up and first invoice too, a few tens of ms).
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([invoices, "--count", str(repeat), "--json"], check=True, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    ours_cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    ours = json.loads(out.stdout)

    def each(seconds):
        return f"{seconds * 1000 / repeat:6.2f} ms"

    print(f"One-page invoice PDF ({repeat} documents, the sample invoice with its own number each):")
    print(f"  reportlab {reportlab.Version:6} {repeat / theirs:8.1f} PDF/s   {each(theirs)} each, {each(theirs_cpu)} CPU"
          f"   {len(first):7,} bytes")
    print(f"  ouvrage (typst) {repeat / ours['seconds']:8.1f} PDF/s   {each(ours['seconds'])} each, {each(ours_cpu)} CPU"
          f"   {ours['bytes']:7,} bytes")
    print(f"  ratio ours/theirs: throughput {theirs / ours['seconds']:.2f}x, CPU time {theirs_cpu / ours_cpu:.2f}x")
    print(f"  (typst: renderer set-up {ours['setup_seconds'] * 1000:.0f} ms and first invoice "
          f"{ours['first_render_seconds'] * 1000:.0f} ms, once per process, not in the throughput)")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ouvrage", help="the ouvrage binary (XML and Excel peers)")
    p.add_argument("--invoices", help="the ouvrage-typeset `invoices` example binary (invoice peer)")
    p.add_argument("--repeat", type=int, default=200)
    p.add_argument("--only", action="append", choices=PEERS, help="run only this peer (repeatable)")
    p.add_argument("files", nargs="*", help="thermal studies (XML peer)")
    a = p.parse_args()
    only = a.only or PEERS
    if "xml" in only:
        xml(a.ouvrage, a.files, a.repeat)
    if "excel" in only:
        excel(a.ouvrage)
    if "invoice" in only:
        invoice_pdf(a.invoices, a.repeat)


if __name__ == "__main__":
    main()
