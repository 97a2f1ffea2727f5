"""The project's own promises: package metadata, notebook layout, README generation, light import."""
import configparser, json, os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p.stem for p in (ROOT/'nbs').glob('*.ipynb') if p.stem != 'index')

def _default_exp(stem):
    first = ''.join(json.loads((ROOT/'nbs'/f'{stem}.ipynb').read_text())['cells'][0]['source']).strip()
    return first.removeprefix('#| default_exp ').strip() if first.startswith('#| default_exp ') else None

def settings():
    cfg = configparser.ConfigParser(delimiters=['=']); cfg.read(ROOT/'settings.ini'); return cfg['DEFAULT']

def test_version_matches_settings():
    import galnb
    assert galnb.__version__ == settings()['version']

def test_import_is_light():
    "`import galnb` must not pull in torch, fastai or umap: each stage module imports what it needs."
    code = "import sys, galnb; heavy = [m for m in ('torch', 'fastai', 'umap', 'sklearn', 'astropy') if m in sys.modules]; print(','.join(heavy))"
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == '', f'import galnb loaded heavy packages: {out}'

def test_quarto_config_single_source():
    link = ROOT/'nbs'/'_quarto.yml'
    assert link.is_symlink(), 'nbs/_quarto.yml must be a symlink to the top-level _quarto.yml'
    assert os.readlink(link) == '../_quarto.yml'
    assert link.resolve() == (ROOT/'_quarto.yml').resolve()

def test_test_flags():
    assert set(settings()['tst_flags'].split()) == {'notest', 'slow', 'cuda'}

def test_pins():
    req = settings()['requirements'].split()
    assert 'fastai>=2.8,<2.8.8' in req and any(r.startswith('fastcore') and '<2' in r for r in req)
    assert 'nbdev==2.4.14' in settings()['dev_requirements'].split()

def test_every_module_from_one_notebook():
    "Each galnb module is exported by exactly one notebook, and each notebook exports a module that exists."
    mods = [_default_exp(s) for s in NOTEBOOKS]
    assert None not in mods, [s for s, m in zip(NOTEBOOKS, mods) if m is None]
    assert len(set(mods)) == len(mods), sorted(m for m in mods if mods.count(m) > 1)
    assert set(mods) == {p.stem for p in (ROOT/'galnb').glob('*.py')} - {'__init__', '_modidx'}

@pytest.mark.parametrize('stem', NOTEBOOKS)
def test_stage_notebook(stem):
    nb = json.loads((ROOT/'nbs'/f'{stem}.ipynb').read_text())
    cells = nb['cells']
    assert (ROOT/'galnb'/f'{_default_exp(stem)}.py').is_file(), f'{stem}: no default_exp cell first, or its module is missing'
    titles = [''.join(c['source']) for c in cells if c['cell_type'] == 'markdown' and ''.join(c['source']).startswith('# ')]
    assert titles, f'{stem} has no title cell'
    assert '\n> ' in titles[0], f'{stem} title cell lacks its one-sentence summary'

def _nb(cells):
    return {'cells': [{'cell_type': t, 'metadata': {}, 'source': s, **({'outputs': [], 'execution_count': None} if t == 'code' else {})}
                      for t, s in cells], 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}

def test_make_readme_drops_hidden_cells(tmp_path):
    nb = tmp_path/'index.ipynb'
    nb.write_text(json.dumps(_nb([('markdown', '# title\n\n> summary'), ('code', '#| hide\nsecret = 1'),
                                  ('code', '#| eval: false\nshown = 2')])))
    out = tmp_path/'README.md'
    subprocess.run([sys.executable, str(ROOT/'tools'/'make_readme.py'), str(nb), str(out)], check=True, capture_output=True)
    text = out.read_text()
    assert '# title' in text and 'shown = 2' in text
    assert 'secret' not in text and '#|' not in text
    chk = subprocess.run([sys.executable, str(ROOT/'tools'/'make_readme.py'), str(nb), str(out), '--check'], capture_output=True, text=True)
    assert chk.returncode == 0
    out.write_text(text + 'edited by hand\n')
    chk = subprocess.run([sys.executable, str(ROOT/'tools'/'make_readme.py'), str(nb), str(out), '--check'], capture_output=True, text=True)
    assert chk.returncode != 0 and 'make readme' in chk.stderr

def test_readme_opens_with_setup_commands():
    text = (ROOT/'README.md').read_text()
    head = text[:text.index('## What galnb is')] if '## What galnb is' in text else text
    assert 'make demo' in head and 'make test' in head

def test_console_script():
    "The `galnb` command is declared in settings.ini, installed beside this Python, and explains itself."
    assert settings()['console_scripts'].split() == ['galnb=galnb.cli:console']
    exe = Path(sys.executable).parent/'galnb'
    assert exe.exists(), f'{exe} is missing: reinstall galnb (pip install -e .)'
    out = subprocess.run([str(exe), '--help'], capture_output=True, text=True)
    assert out.returncode == 0 and all(c in out.stdout for c in ('demo', 'spectra', 'images', 'bench'))
    bad = subprocess.run([str(exe), 'bench', 'nonsense'], capture_output=True, text=True)
    assert bad.returncode == 2 and 'invalid choice' in bad.stderr

def test_saving_in_jupyterlab_leaves_notebooks_clean():
    "Each notebook selects the kernel `make lab` installs, and what JupyterLab adds on save is removed by nbdev's save hook."
    import copy
    from nbdev.clean import clean_jupyter
    assert settings()['jupyter_hooks'] == 'True'
    for p in sorted((ROOT/'nbs').glob('*.ipynb')):
        on_disk = json.loads(p.read_text())
        assert on_disk['metadata']['kernelspec']['name'] == 'galnb', f'{p.name} does not select the galnb kernel'
        saved = copy.deepcopy(on_disk)                                    # what JupyterLab writes without an edit
        saved['metadata']['language_info'] = {'name': 'python', 'version': '3.11.7', 'mimetype': 'text/x-python'}
        for c in saved['cells']: c['metadata']['jp-MarkdownHeadingCollapsed'] = True
        clean_jupyter(path=p, model=dict(type='notebook', content=saved))
        assert saved == on_disk, f'{p.name}: saving in JupyterLab would change it'
