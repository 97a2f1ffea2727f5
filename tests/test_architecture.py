"""galnb's import graph, read statically from the generated modules (index.ipynb, "How galnb is built"): every import
points to a lower layer, the two model modules never import each other, no module uses another module's private names,
and `scale` does not depend on `benchmarks` (benchmarks measure scale, not the reverse). Imports inside functions count as much as those at the top."""
import ast
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT/'galnb'
MODULES = {p.stem for p in PKG.glob('*.py')}
MODELS = {'spectral_vae', 'physics_cvae'}
FORBIDDEN = {('scale', 'benchmarks')}            # (importer, imported) pairs that would point up the layers

def _private(name): return name.startswith('_') and not (name.startswith('__') and name.endswith('__'))

def _target(node, modules):
    "The galnb module an ImportFrom reads from ('__init__' for the package itself), or None for another package."
    if node.level == 1: return node.module.split('.')[0] if node.module else '__init__'
    if node.level == 0 and node.module and node.module.split('.')[0] == 'galnb':
        parts = node.module.split('.')
        return parts[1] if len(parts) > 1 else '__init__'
    return None

def imports(src, modules=MODULES):
    "Every use of another galnb module in `src`: (line, module imported, private name used or None)."
    found, aliases = [], {}                       # aliases: local name -> galnb module ('galnb' itself -> the package)
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.Import):
            for a in node.names:
                parts = a.name.split('.')
                if parts[0] != 'galnb': continue
                mod = parts[1] if len(parts) > 1 else '__init__'
                found.append((node.lineno, mod, None))
                if a.asname: aliases[a.asname] = mod
                else: aliases['galnb'] = '__init__'
        elif isinstance(node, ast.ImportFrom) and (base := _target(node, modules)) is not None:
            for a in node.names:
                if base == '__init__' and a.name in modules:        # `from galnb import scale`: a module
                    found.append((node.lineno, a.name, None)); aliases[a.asname or a.name] = a.name
                else: found.append((node.lineno, base, a.name if _private(a.name) else None))
    for node in ast.walk(ast.parse(src)):         # m._x on a galnb module, and galnb.m._x
        if not (isinstance(node, ast.Attribute) and _private(node.attr)): continue
        v = node.value
        if isinstance(v, ast.Name) and v.id in aliases and aliases[v.id] != '__init__':
            found.append((node.lineno, aliases[v.id], node.attr))
        elif (isinstance(v, ast.Attribute) and isinstance(v.value, ast.Name) and aliases.get(v.value.id) == '__init__'
              and v.attr in modules):
            found.append((node.lineno, v.attr, node.attr))
    return found

def violations(src, module, modules=MODULES):
    "The layering rules the source of galnb.`module` breaks, one readable line each."
    out = []
    for line, mod, private in imports(src, modules):
        if mod == module: continue                # a module may use its own names (e.g. picklable by reference)
        if {module, mod} == MODELS: out.append(f"{module}.py:{line}: the model modules never import each other ({module} → {mod})")
        if (module, mod) in FORBIDDEN: out.append(f"{module}.py:{line}: {module} must not depend on {mod}")
        if private: out.append(f"{module}.py:{line}: uses private name {private} of galnb.{mod}; make it public or move it")
    return list(dict.fromkeys(out))            # one line per rule and place, however many names it imports

@pytest.mark.parametrize('src, module, expected', [
    ("from .spectral_vae import InMemoryDL", 'physics_cvae', 'model modules never import each other'),
    ("def f():\n    from galnb.physics_cvae import PhysicsCVAE", 'spectral_vae', 'model modules never import each other'),
    ("import galnb.physics_cvae as p", 'spectral_vae', 'model modules never import each other'),
    ("from galnb import spectral_vae", 'physics_cvae', 'model modules never import each other'),
    ("from .physics_cvae import PROPS, _checked_images", 'anomalies', 'private name _checked_images of galnb.physics_cvae'),
    ("def f():\n    from galnb.benchmarks import _table", 'cli', 'private name _table of galnb.benchmarks'),
    ("from galnb import benchmarks as b\nb._table([], [])", 'cli', 'private name _table of galnb.benchmarks'),
    ("import galnb.clustering\ngalnb.clustering._linear_flam(s)", 'cli', 'private name _linear_flam of galnb.clustering'),
    ("from . import _secret", 'cli', 'private name _secret of galnb.__init__'),
    ("def f():\n    from galnb.benchmarks import machine_info", 'scale', 'scale must not depend on benchmarks'),
    ("from . import benchmarks", 'scale', 'scale must not depend on benchmarks'),
])
def test_checker_finds(src, module, expected):
    "Each rule can fail: the checker finds it in a small source written to break it."
    assert any(expected in v for v in violations(src, module)), violations(src, module)

@pytest.mark.parametrize('src, module', [
    ("from . import __version__", 'cli'),                                   # dunders are public
    ("from galnb import scale as m\nm._warm('x')", 'scale'),                # a module's own private names
    ("from galnb.scale import score_store\nimport numpy as np\nnp._x", 'benchmarks'),
    ("from .physics_cvae import PhysicsCVAE, checked_images", 'anomalies'),
    ("from .training import galnb_learner", 'spectral_vae'),
    ("obj._private; self._x", 'cli'),                                       # not a module
    ("from torch.nn import _reduction", 'physics_cvae'),                    # another package's business
])
def test_checker_allows(src, module):
    assert violations(src, module) == []

@pytest.mark.parametrize('path', sorted(PKG.glob('*.py')), ids=lambda p: p.name)
def test_layers(path):
    "The generated modules follow the rules."
    bad = violations(path.read_text(encoding='utf-8'), path.stem)
    assert not bad, '\n'.join(bad)

# The layers of index.ipynb ("How galnb is built"), top to bottom: an import points to a lower layer, never across or up.
LAYERS = [['cli'], ['benchmarks', 'ddp'], ['pipeline', 'scale'], ['reference'], ['clustering', 'anomalies', 'explore'],
          ['spectral_vae', 'physics_cvae'], ['training'], ['mocks', 'mock_images'], ['preprocess', 'images', 'download'],
          ['core', 'papers']]
LEVEL = {m: len(LAYERS) - i for i, layer in enumerate(LAYERS) for m in layer}

def upward(src, module, modules=MODULES):
    "The galnb modules `module` imports that are not in a lower layer than its own."
    return sorted({m for _, m, _ in imports(src, modules) if m in LEVEL and m != module and LEVEL[m] >= LEVEL[module]})

def test_layers_listed():
    "Every module has a layer, so a new module cannot slip past the check."
    assert MODULES - {'__init__', '_modidx'} == set(LEVEL), (MODULES - {'__init__', '_modidx'}) ^ set(LEVEL)

def test_upward_found():
    assert upward("from .cli import main", 'pipeline') == ['cli']
    assert upward("def f():\n    from galnb.scale import score_store", 'pipeline') == ['scale']      # across a layer
    assert upward("from .clustering import umap_embed", 'pipeline') == []

@pytest.mark.parametrize('path', sorted(p for p in PKG.glob('*.py') if p.stem in LEVEL), ids=lambda p: p.name)
def test_imports_point_down(path):
    assert not upward(path.read_text(encoding='utf-8'), path.stem), f"{path.stem} imports {upward(path.read_text(encoding='utf-8'), path.stem)}, not below it"
