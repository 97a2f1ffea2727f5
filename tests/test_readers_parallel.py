"""Reading many files in worker processes gives what reading them one by one gives: results, order and errors."""
import warnings
import numpy as np
import pytest
from astropy.io import fits
from galnb.core import GalnbInputError
from galnb.preprocess import preprocess_spectra, read_dja_spectra, spectrum_from_arrays
from galnb.images import read_legacy_cutout, read_legacy_cutouts
from galnb.mocks import write_dja_spectra
from galnb.mock_images import write_legacy_cutouts

@pytest.fixture(scope='module')
def cutouts(tmp_path_factory):
    d = tmp_path_factory.mktemp('cut')
    x = np.random.default_rng(0).normal(0, 1, (9, 3, 16, 16)).astype(np.float32); x[2, 1, 3, 3] = np.nan
    return d, write_legacy_cutouts(x, d), x

def test_cutouts_fast_path_matches_astropy(cutouts):
    d, paths, x = cutouts
    for p, im in zip(paths, x):
        got, hdr = read_legacy_cutout(p)
        with fits.open(p) as hl: ref = np.array(hl[0].data, np.float32); assert list(hdr.items()) == list(hl[0].header.items())
        assert np.array_equal(got, ref, equal_nan=True) and np.array_equal(got, im, equal_nan=True) and got.dtype == np.float32
    # files the fast path does not take (scaled integers) still read through astropy, with the same values
    hdu = fits.PrimaryHDU(x[0].copy(), header=fits.Header([('BAND0', 'g'), ('BAND1', 'r'), ('BAND2', 'z')]))
    hdu.scale('int16', bscale=0.01, bzero=0.); hdu.writeto(d/'scaled.fits')
    with fits.open(d/'scaled.fits') as hl: assert 'BSCALE' in hl[0].header; ref = np.array(hl[0].data, np.float32)
    assert np.array_equal(read_legacy_cutout(d/'scaled.fits')[0], ref, equal_nan=True) and np.allclose(ref, x[0], atol=0.01, equal_nan=True)

def test_cutouts_two_workers(cutouts, tmp_path):
    d, paths, x = cutouts
    a, ta = read_legacy_cutouts(paths); b, tb = read_legacy_cutouts(paths, n_workers=2)
    assert np.array_equal(a, b, equal_nan=True) and list(ta['nbad']) == list(tb['nbad']) == [0, 0, 1] + [0]*6
    cut = tmp_path/'cut.fits'; cut.write_bytes(paths[0].read_bytes()[:3000])
    big = write_legacy_cutouts(np.ones((1, 3, 20, 20), np.float32), tmp_path, names=['big.fits'])[0]
    for bad, first in (([*paths[:4], big, *paths[4:], cut], 'cut.fits'), ([*paths[:4], big, *paths[4:]], 'big.fits')):
        msgs = []
        for nw in (1, 2):
            with pytest.raises(GalnbInputError) as e: read_legacy_cutouts(bad, n_workers=nw)
            msgs.append(str(e.value))
        assert msgs[0] == msgs[1] and first in msgs[0]      # an unreadable file wins over a size mismatch, as serially

def test_dja_two_workers_and_bad_n_workers(tmp_path):
    specs = [spectrum_from_arrays(np.geomspace(6000., 53000., 200), np.ones(200) + i, np.full(200, .1), wave_unit='AA',
                                  id=f's{i}', meta={'z': 5. + i/10}) for i in range(12)]
    files = write_dja_spectra(specs, tmp_path)
    (tmp_path/'junk.spec.fits').write_bytes(b'x'*2880)
    mixed = files[:5] + [tmp_path/'junk.spec.fits'] + files[5:]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        one, two = read_dja_spectra(mixed, on_error='skip'), read_dja_spectra(mixed, on_error='skip', n_workers=2)
        s1, s2 = preprocess_spectra(mixed), preprocess_spectra(mixed, n_workers=2)
    assert [s.id for s in one] == [s.id for s in two] == [f's{i}' for i in range(12)]
    assert all(np.array_equal(a.flux, b.flux) and a.meta['Z'] == b.meta['Z'] for a, b in zip(one, two))
    assert np.array_equal(s1.flux, s2.flux) and list(s1.rejected['id']) == list(s2.rejected['id']) == ['junk']
    for bad in (0, 1.5, 'two'):
        with pytest.raises(GalnbInputError, match='n_workers must be a positive integer'): read_dja_spectra(files, n_workers=bad)
        with pytest.raises(GalnbInputError, match='n_workers must be a positive integer'): read_legacy_cutouts(files, n_workers=bad)
