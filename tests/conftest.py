import pytest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / 'shared' / 'data'

def pytest_addoption(parser):
    parser.addoption('--runslow', action='store_true', default=False, help='also run tests marked slow')

def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: long-running test, run with --runslow (make test-slow)')

def pytest_collection_modifyitems(config, items):
    if config.getoption('--runslow'): return
    skip = pytest.mark.skip(reason='slow: run with --runslow (make test-slow)')
    for item in items:
        if 'slow' in item.keywords: item.add_marker(skip)

@pytest.fixture(scope='session')
def root(): return ROOT

@pytest.fixture(scope='session')
def shared_data():
    if not SHARED_DATA.is_dir(): pytest.skip(f'real survey data not present at {SHARED_DATA} (developers and CI only)')
    return SHARED_DATA

@pytest.fixture(scope='session')
def lrd_real(shared_data):
    "The real DJA Little Red Dots as `spectra_realism` takes them: {'lrd': (files, redshifts)}."
    from astropy.table import Table
    d = shared_data/'dja_lrd_prism'
    if not d.is_dir(): pytest.skip(f'{d} not present: the real-LRD comparison needs ../shared/data')
    cat = Table.read(d/'catalog.csv', format='ascii.csv')
    return {'lrd': ([d/f for f in cat['file']], cat['z'])}
