"""galnb.preprocess on the real DJA PRISM spectra mirrored for developers (skipped where ../shared/data is absent)."""
import warnings
import numpy as np
import pytest
from astropy.table import Table
from galnb.preprocess import read_dja_spectra, preprocess_spectra, SpectraSet, SpecFlag
from galnb.core import GalnbInputError

@pytest.fixture(scope='module')
def dja(shared_data):
    d = shared_data/'dja_lrd_prism'
    if not d.is_dir(): pytest.skip(f'{d} not present')
    cat = Table.read(d/'catalog.csv')
    return d, cat, read_dja_spectra([d/f for f in cat['file']])

def test_every_file_reads(dja):
    d, cat, specs = dja
    assert len(specs) == len(cat) == 40
    assert all(s.valid.any() and not s.valid.all() for s in specs)

def test_preprocess_and_roundtrip(dja, tmp_path):
    d, cat, specs = dja
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        ss = preprocess_spectra(specs, z=cat['z'])
    assert len(ss) + len(ss.rejected) == 40
    assert np.isfinite(ss.flux).all() and np.isfinite(ss.weight).all()
    assert (ss.weight[~ss.mask] == 0).all()
    # no real spectrum with signal is lost: all 40 kept; the z < 3 one (1500 Å not covered) and the UV-faint ones fall back, flagged
    assert len(ss) == 40 and len(ss.rejected) == 0
    lowz = [f.removesuffix('.spec.fits') for f, z in zip(cat['file'], cat['z']) if z < 3]
    ids = list(ss.meta['id'])
    for i in lowz: assert ss.meta['flags'][ids.index(i)] & SpecFlag.NORM_FALLBACK and ss.meta['norm_window'][ids.index(i)] == '1300-2500'
    fb = (np.asarray(ss.meta['flags']) & SpecFlag.NORM_FALLBACK) != 0
    assert (fb == (np.asarray(ss.meta['norm_window']) != '1450-1550')).all()
    for i in ('cosmos-transients-v4_prism-clear_6585_65449', 'rubies-uds23-v4_prism-clear_4233_981721',
              'rubies-uds42-v4_prism-clear_4233_807469', 'rubies-uds43-v4_prism-clear_4233_40800'):   # UV S/N < 1 at 1500 Å
        assert ss.meta['norm_window'][ids.index(i)] in ('1300-2500', '4000-6400') and ss.meta['norm_snr'][ids.index(i)] >= 3
    assert (np.asarray(ss.meta['norm_window']) == '4000-6400').sum() == 3
    p = tmp_path/'lrd.fits'
    ss.save(p)
    back = SpectraSet.load(p)
    assert np.array_equal(back.flux, ss.flux) and np.array_equal(back.mask, ss.mask)
    assert list(back.rejected['reason']) == list(ss.rejected['reason'])
    with pytest.raises(FileExistsError): ss.save(p)

def test_truncated_copy_is_named(dja, tmp_path):
    d, cat, _ = dja
    src = d/cat['file'][0]
    bad = tmp_path/src.name
    bad.write_bytes(src.read_bytes()[:5000])
    from galnb.preprocess import read_dja_spectrum
    with pytest.raises(GalnbInputError, match=src.name): read_dja_spectrum(bad)

def test_old_policy_is_an_option(dja):
    "galnb's previous normalisation (UV fallback only, no slope, no last resort) still keeps 36 and drops the 4 UV-faint LRDs."
    d, cat, specs = dja
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        new = preprocess_spectra(specs, z=cat['z'])
        old = preprocess_spectra(specs, z=cat['z'], fallbacks=((1300., 2500.),), beta=0., covered=False)
    assert len(old) == 36 and len(old.rejected) == 4
    at1500 = np.asarray(new.meta['norm_window']) == '1450-1550'        # spectra normalised at 1500 Å are untouched
    j = np.isin(old.meta['id'], new.meta['id'][at1500])
    assert np.array_equal(np.asarray(new.meta['norm'][at1500]), np.asarray(old.meta['norm'][j]))
    assert np.array_equal(new.flux[at1500], old.flux[j])

def test_redshift_from_files_and_parallel_paths(dja, tmp_path):
    "DJA-format files with Z in the header need no z=; files preprocessed in 2 workers give the serial result bit for bit."
    from galnb.mocks import write_dja_spectra
    d, cat, specs = dja
    for s, z in zip(specs, cat['z']): s.meta['z'] = float(z)
    files = write_dja_spectra(specs, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        one = preprocess_spectra(files)
        two = preprocess_spectra(files, n_workers=2)
    assert np.allclose(np.asarray(one.meta['z']), np.asarray(cat['z'])) and len(one) == 40
    assert np.array_equal(one.flux, two.flux) and np.array_equal(one.mask, two.mask) and np.array_equal(one.weight, two.weight)
    assert list(one.meta['id']) == list(two.meta['id']) and list(one.meta['norm_window']) == list(two.meta['norm_window'])
