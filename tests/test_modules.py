"""The exported library must stand on its own: notebooks run with dev-only imports in hidden cells, so a name the
library uses but never imports would pass `nbdev_test` and fail for users. pyflakes finds such names statically,
and every module must import in a fresh interpreter."""
import subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(p for p in (ROOT/'galnb').glob('*.py') if p.name not in ('__init__.py', '_modidx.py'))

@pytest.mark.parametrize('path', MODULES, ids=lambda p: p.name)
def test_no_undefined_names(path):
    out = subprocess.run([sys.executable, '-m', 'pyflakes', str(path)], capture_output=True, text=True).stdout
    undefined = [l for l in out.splitlines() if 'undefined name' in l]
    assert not undefined, '\n'.join(undefined)

@pytest.mark.parametrize('path', MODULES, ids=lambda p: p.name)
def test_imports_in_fresh_interpreter(path):
    r = subprocess.run([sys.executable, '-c', f'import galnb.{path.stem}'], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
