"""galnb.preprocess on the real DJA PRISM spectra mirrored for developers (skipped where ../shared/data is absent)."""
import warnings
import numpy as np
import pytest
from astropy.table import Table
from galnb.preprocess import read_dja_spectra, preprocess_spectra, SpectraSet, SpecFlag, GalnbInputError

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
    # the spectrum at z < 3 cannot be normalised at 1500 Å: it is either flagged as a fallback or rejected with a reason
    lowz = [f.removesuffix('.spec.fits') for f, z in zip(cat['file'], cat['z']) if z < 3]
    for i in lowz:
        if i in list(ss.meta['id']): assert ss.meta['flags'][list(ss.meta['id']).index(i)] & SpecFlag.NORM_FALLBACK
        else: assert i in list(ss.rejected['id'])
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
