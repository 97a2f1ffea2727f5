"""Execute galnb's notebooks in place so that their outputs (figures, small tables) are stored for GitHub and the docs.

Runs each notebook the way `nbdev_test` does — in its folder, with IN_TEST set so that cells use their fast path,
skipping cells flagged `#| slow`, `#| cuda` or `#| notest` — and writes the outputs back into the notebook.
Outputs a reader does not want are dropped: warnings on stderr and progress bars; memory addresses are masked. `make outputs` runs it
and then `nbdev_clean`, which keeps outputs but strips volatile metadata."""
import argparse, os, re, sys, time
from pathlib import Path
from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell

_directive = re.compile(r'^\s*#\s*\|\s*([\w-]+)', re.M)
_address = re.compile(r' at 0x[0-9a-f]{6,}')
_table_id = re.compile(r'<table id="table\d+"')         # astropy's HTML tables carry the object's id()
SKIP = {'slow', 'cuda', 'notest'}

def _skip(cell):
    "True for cells nbdev_test would not run."
    if cell.cell_type != 'code': return True
    if 'nbdev_export(' in cell.source: return True
    return bool(SKIP & set(_directive.findall(cell.source)))

def _keep(out):
    "False for outputs that are noise in a stored notebook."
    if out.get('name') == 'stderr': return False          # warnings from libraries, with this machine's paths
    text = ''.join(out.get('text', '')) + ''.join(out.get('data', {}).get('text/html', ''))
    if '<progress' in text or '\r' in text: return False
    return True

def _tidy(out):
    for k in ('text',):
        if k in out: out[k] = _address.sub(' at 0x…', ''.join(out[k]))
    if 'data' in out and 'text/plain' in out['data']: out['data']['text/plain'] = _address.sub(' at 0x…', ''.join(out['data']['text/plain']))
    if 'data' in out and 'text/html' in out['data']: out['data']['text/html'] = _table_id.sub('<table', ''.join(out['data']['text/html']))
    return out

def run(path):
    "Execute notebook `path` and store its outputs; returns the seconds it took."
    path = Path(path).resolve(); t0 = time.time()
    nb = read_nb(path)
    shell = CaptureShell(path)
    cwd = os.getcwd(); os.chdir(path.parent)
    try: shell.run_all(nb, exc_stop=True, preproc=_skip)
    finally: os.chdir(cwd)
    for c in nb.cells:
        if c.cell_type == 'code':
            if _skip(c): c.outputs = []
            else: c.outputs = [_tidy(o) for o in c.get('outputs', []) if _keep(o)]
    write_nb(nb, path)
    return time.time() - t0

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('notebooks', nargs='+', help='notebooks to execute')
    a = ap.parse_args()
    os.environ['IN_TEST'] = '1'
    os.environ.setdefault('PYTHONWARNINGS', 'ignore::FutureWarning')   # worker processes' library deprecation notes
    for nb in a.notebooks:
        print(f'{nb}: ', end='', flush=True)
        try: print(f'{run(nb):.0f} s', flush=True)
        except Exception as e: print(f'failed ({type(e).__name__}: {e})'); sys.exit(1)
