"""Regenerate README.md from nbs/index.ipynb without Quarto (which `nbdev_readme` needs).

Cells marked `#| hide` are left out, nbdev directive lines are removed from code cells, and a code cell
marked `#| echo: false` contributes its output only. With `--check`, nothing is written: the script exits
with status 1 when README.md differs from what the notebook would produce."""
import argparse, copy, re, sys
from pathlib import Path
import nbformat
from nbconvert import MarkdownExporter

_directive = re.compile(r'^\s*#\s*\|\s*(.*)$')
HEADER = '<!-- Generated from nbs/index.ipynb by `make readme`: edit the notebook, not this file. -->\n\n'

def _directives(src):
    return [m.group(1).strip() for l in src.splitlines() if (m := _directive.match(l))]

def readme_text(nb_path):
    nb = nbformat.read(nb_path, as_version=4)
    out = copy.deepcopy(nb); out.cells = []
    for cell in nb.cells:
        ds = _directives(cell.source) if cell.cell_type == 'code' else []
        if any(d.startswith(('hide', 'exporti', 'export')) for d in ds): continue
        cell = copy.deepcopy(cell)
        if cell.cell_type == 'code':
            cell.source = '\n'.join(l for l in cell.source.splitlines() if not _directive.match(l)).strip('\n')
            if 'echo: false' in ds: cell.source = ''
        out.cells.append(cell)
    body, _ = MarkdownExporter().from_notebook_node(out)
    body = re.sub(r'\n{3,}', '\n\n', body).strip() + '\n'
    return HEADER + body

def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('notebook'); p.add_argument('readme'); p.add_argument('--check', action='store_true')
    a = p.parse_args()
    text, dest = readme_text(a.notebook), Path(a.readme)
    if a.check:
        if not dest.exists() or dest.read_text(encoding='utf-8') != text:
            sys.exit(f"{dest} is out of date with {a.notebook}: run `make readme` and commit the result.")
        print(f"{dest} matches {a.notebook}")
        return
    tmp = dest.with_suffix('.md.tmp'); tmp.write_text(text, encoding='utf-8'); tmp.replace(dest)
    print(f"wrote {dest} from {a.notebook}")

if __name__ == '__main__': main()
