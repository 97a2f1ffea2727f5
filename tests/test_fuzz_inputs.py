"""Property-based fuzzing of galnb.preprocess's doors (issue 18, "nothing lost, nothing silently wrong").

Whatever goes in — wavelength grids that are non-monotonic, duplicated, NaN, negative, tiny or huge; units good and
bad; NaN/inf/masked pixels; redshifts that are negative, zero, NaN, inf, huge or strings; truncated files; images
with NaN/inf/huge/zero pixels and wrong shapes — the outcome is a result (with flags or rejection rows where
something was wrong) or a `GalnbInputError`, never any other exception. Where a result comes back, it is checked
for the promises galnb makes about it (finite arrays, one row per input, …).
"""
import warnings
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from hypothesis import HealthCheck, assume, event, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from galnb.core import GalnbInputError
from galnb.images import (ImageFlag, normalize_images, normalize_resize, preprocess_images, read_legacy_cutout,
                          read_legacy_cutouts, resize_images)
from galnb.preprocess import (SpectraSet, Spectrum, preprocess_spectra, read_dja_spectrum, rest_frame_grid,
                              spectrum_from_arrays, spectrum_from_table)

pytestmark = pytest.mark.filterwarnings('ignore')   # damaged files and absurd values warn on purpose; exceptions are the test

def fuzz(n): # examples: fixed (derandomized) so that CI runs the same cases every time
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

GRID = rest_frame_grid(1100., 3000., 10.)   # a coarse grid keeps each example fast; the code paths are the same

def outcome(f, *a, must_name=None, **k):
    "Call `f`; a GalnbInputError (naming `must_name`) is an allowed outcome, returned as None; any other exception fails the test."
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        try: r = f(*a, **k)
        except GalnbInputError as e:
            assert str(e).strip(), 'a GalnbInputError must say what is wrong'
            assert must_name is None or must_name in str(e), f'{e} does not name {must_name}'
            event(f'{f.__name__}: GalnbInputError')
            return None
    event(f'{f.__name__}: result')
    return r

# ---- strategies ---------------------------------------------------------------------------------------------------
def mostly(good, bad, k=4):
    "`good` about k times in k+1, else `bad`: valid inputs must reach the deep code, invalid ones its checks."
    return st.integers(0, k).flatmap(lambda i: bad if i == k else good)

def rarely(s, k=4): return mostly(st.none(), s, k)

specials = st.sampled_from([np.nan, np.inf, -np.inf, 0., -0., 1e-300, 5e-324, 1e300, 1.7e308, -1e30, 1e30])
floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64), specials)

@st.composite
def wave_grids(draw, n=None):
    "Wavelength grids in µm: mostly PRISM-like and valid, often broken in one way."
    n = draw(st.integers(0, 60)) if n is None else n
    kind = draw(mostly(st.just('ok'), st.sampled_from(['shuffled', 'dup', 'special', 'negative', 'tiny', 'huge', 'random']), 2))
    w = np.geomspace(0.6, 5.3, n) if n else np.zeros(0)
    if kind == 'shuffled' and n > 1: w = draw(st.permutations(list(w)))
    elif kind == 'dup' and n > 2: w[n//2] = w[n//2 - 1]
    elif kind == 'special' and n: w[draw(st.integers(0, n - 1))] = draw(specials)
    elif kind == 'negative': w = w - 3.
    elif kind == 'tiny': w = w*1e-300
    elif kind == 'huge': w = w*1e300
    elif kind == 'random': w = np.array(draw(st.lists(floats, min_size=n, max_size=n)), float)
    return np.asarray(w, float)

@st.composite
def fluxes(draw, n):
    "Flux-like arrays: positive with noise, with NaN/inf/huge/zero pixels sprinkled in."
    f = np.abs(np.array(draw(st.lists(st.floats(0.01, 10.), min_size=n, max_size=n)), float))
    for i in draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=4)) if n else []: f[i] = draw(specials)
    return f

good_units = ['uJy', 'mJy', 'Jy', 'nanomaggy', '1e-19 erg/s/cm2/Angstrom', 'erg / (s cm2 Angstrom)', 'W/m2/um',
              'W m-2 Hz-1', 'photon/s/cm2/Angstrom', '10**(-19) erg s-1 cm-2 AA-1']
bad_units = ['electron/s', 'DN/s', 'counts', 'ct', 'adu', '', 'furlong', 'MJy/sr', 'mag', 'erg/s/cm^2/A', 'e-/s', '???', 'um',
             'Angstrom', 's']
flux_units = mostly(st.sampled_from(good_units), st.sampled_from(bad_units), 2)
wave_units = mostly(st.sampled_from(['um', 'Angstrom', 'nm', 'm']), st.sampled_from(['uJy', 'furlong', 'pix', '', 's', 'mag']))
redshifts = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0., -1., -0.5, 5., 6.5, 1e300, 1e-300]),
                      st.sampled_from(['5', ' 7.1 ', 'abc', '', None, 3+1j]))

def check_spectrum(s):
    assert isinstance(s, Spectrum)
    assert s.wave.ndim == 1 and len(s.wave) >= 2 and np.isfinite(s.wave).all() and (s.wave > 0).all() and (np.diff(s.wave) > 0).all()
    assert s.flux.shape == s.err.shape == s.valid.shape == s.wave.shape
    assert np.isfinite(s.flux[s.valid]).all() and (s.err[s.valid] > 0).all() and np.isfinite(s.err[s.valid]).all()

def check_set(ss, n):
    assert isinstance(ss, SpectraSet)
    assert len(ss) + len(ss.rejected) == n, (len(ss), len(ss.rejected), n)
    assert np.isfinite(ss.flux).all() and np.isfinite(ss.weight).all() and (ss.weight[~ss.mask] == 0).all()
    assert np.isfinite(np.asarray(ss.meta['norm'], float)).all() and (np.asarray(ss.meta['norm'], float) > 0).all()
    assert all(str(r).strip() for r in ss.rejected['reason'])

# ---- spectra from arrays and tables -------------------------------------------------------------------------------
@fuzz(300)
@given(data=st.data(), wave_unit=wave_units, flux_unit=flux_units, with_err=st.booleans(), with_mask=st.booleans())
def test_spectrum_from_arrays(data, wave_unit, flux_unit, with_err, with_mask):
    w = data.draw(wave_grids())
    n = len(w) + data.draw(mostly(st.just(0), st.sampled_from([1, -1]), 6))   # sometimes flux of another length
    f = data.draw(fluxes(max(n, 0)))
    e = data.draw(fluxes(max(n, 0))) if with_err else None
    m = np.array(data.draw(st.lists(st.booleans(), min_size=len(f), max_size=len(f)))) if with_mask else None
    s = outcome(spectrum_from_arrays, w, np.ma.masked_greater(f, 9.), e, wave_unit=wave_unit, flux_unit=flux_unit, mask=m, id='fz', must_name='fz')
    if s is not None:
        check_spectrum(s)
        assert flux_unit in good_units, f'{flux_unit!r} was accepted as a flux density'

@fuzz(200)
@given(data=st.data(), flux_unit=flux_units, err_unit=st.one_of(st.none(), flux_units), wave_unit=st.one_of(st.none(), wave_units))
def test_spectrum_from_table(data, flux_unit, err_unit, wave_unit):
    w = data.draw(wave_grids())
    t = Table({'wave': w, 'flux': data.draw(fluxes(len(w))), 'err': data.draw(fluxes(len(w)))})
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')                                   # astropy's own unit warnings, not galnb's
        for c, un in (('wave', wave_unit), ('flux', flux_unit), ('err', err_unit)):
            try: t[c].unit = un
            except ValueError: assume(False)                              # astropy refuses the unit on its own column
    s = outcome(spectrum_from_table, t, file='/fuzz/x.spec.fits', must_name='/fuzz/x.spec.fits')
    if s is not None: check_spectrum(s)

def _write_dja(path, w, f, e, wave_unit, flux_unit, err_unit, extname='SPEC1D'):
    "A DJA-like msaexp file: empty PRIMARY and a SPEC1D table whose TUNITs are written exactly as given."
    cols = [fits.Column('wave', 'D', unit=wave_unit, array=w), fits.Column('flux', 'D', unit=flux_unit, array=f),
            fits.Column('err', 'D', unit=err_unit, array=e)]
    hdr = fits.Header(); hdr['Z'] = 5.5
    fits.HDUList([fits.PrimaryHDU(header=hdr), fits.BinTableHDU.from_columns(cols, name=extname)]).writeto(path, overwrite=True)
    return path

@fuzz(150)
@given(data=st.data(), flux_unit=flux_units, wave_unit=wave_units, cut=rarely(st.integers(0, 12000)),
       extname=mostly(st.just('SPEC1D'), st.just('SPEC2D'), 6), flip=rarely(st.integers(0, 11519)))
def test_read_dja_spectrum(tmp_path_factory, data, flux_unit, wave_unit, cut, extname, flip):
    w = data.draw(wave_grids())
    p = tmp_path_factory.mktemp('dja')/'fz.spec.fits'
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        _write_dja(p, w, data.draw(fluxes(len(w))), data.draw(fluxes(len(w))), wave_unit, flux_unit, flux_unit, extname)
    raw = p.read_bytes()
    if cut is not None: raw = raw[:cut]                                   # truncated in transfer
    if flip is not None and flip < len(raw): raw = raw[:flip] + bytes([raw[flip] ^ 0xFF]) + raw[flip + 1:]   # one damaged byte
    p.write_bytes(raw)
    s = outcome(read_dja_spectrum, p, must_name=str(p))                   # an error names the file, full path
    if s is not None: check_spectrum(s)

# ---- preprocess_spectra -------------------------------------------------------------------------------------------
def _spectrum(data):
    "A spectrum as a user might hand it over: from arrays, or a hand-made `Spectrum` with anything in it."
    if data.draw(st.integers(0, 5)) == 0:
        n = data.draw(st.integers(0, 8))
        arr = lambda k: np.array(data.draw(st.lists(floats, min_size=k, max_size=k)))
        return Spectrum(arr(n), arr(n + data.draw(st.sampled_from([0, 0, 1]))), arr(n), np.ones(n, bool), id='handmade')
    for _ in range(5):
        w = data.draw(wave_grids(n=data.draw(st.integers(2, 60))))
        s = outcome(spectrum_from_arrays, w, data.draw(fluxes(len(w))), data.draw(st.one_of(st.none(), fluxes(len(w)))),
                    wave_unit=data.draw(st.sampled_from(['um', 'um', 'Angstrom'])), id=f'fz{data.draw(st.integers(0, 10**6))}')
        if s is not None: return s
    return spectrum_from_arrays(np.geomspace(0.6, 5.3, 40), np.ones(40), np.full(40, 0.1), id='plain')

@fuzz(120)
@given(data=st.data(), n=st.integers(1, 5), chunk=st.sampled_from([1, 2, 4096]))
def test_preprocess_spectra(data, n, chunk):
    specs = [_spectrum(data) for _ in range(n)]
    for i, s in enumerate(specs): s.id = f's{i}'                         # one id each: rows are matched by id below
    z = data.draw(st.one_of(st.lists(redshifts, min_size=n, max_size=n), st.lists(st.floats(0.1, 12.), min_size=n, max_size=n),
                            st.lists(st.floats(0.1, 12.), min_size=n + 1, max_size=n + 1)))
    ss = outcome(preprocess_spectra, specs, z=z, edges=GRID, chunk=chunk)
    if ss is None: return
    check_set(ss, n)
    for s, zz in zip(specs, z):                                           # per spectrum: the same alone as in the batch
        if s.id not in list(ss.meta['id']): continue
        one = outcome(preprocess_spectra, [s], z=[zz], edges=GRID)
        i = list(ss.meta['id']).index(s.id)
        assert one is not None and len(one) == 1
        assert np.array_equal(one.flux[0], ss.flux[i]) and np.array_equal(one.mask[0], ss.mask[i])
        assert np.array_equal(one.weight[0], ss.weight[i]) and one.meta['norm_snr'][0] == ss.meta['norm_snr'][i]

@fuzz(50)
@given(data=st.data(), n=st.integers(1, 4))
def test_preprocess_spectra_files(tmp_path_factory, data, n):
    d, paths = tmp_path_factory.mktemp('djaset'), []
    for i in range(n):
        w = data.draw(wave_grids(n=data.draw(st.integers(2, 50))))
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            p = _write_dja(d/f'f{i}.spec.fits', w, data.draw(fluxes(len(w))), data.draw(fluxes(len(w))),
                           'um', data.draw(flux_units), 'uJy')
        if data.draw(st.booleans()): p.write_bytes(p.read_bytes()[:data.draw(st.integers(0, 6000))])
        paths.append(p)
    ss = outcome(preprocess_spectra, paths, z=[5.5]*n, edges=GRID)
    assert ss is not None, 'bad files are rejected rows, not a failed batch'
    check_set(ss, n)
    for r in ss.rejected: assert r['file'] in map(str, paths)

# ---- images -------------------------------------------------------------------------------------------------------
pixels = st.one_of(st.floats(-1., 5., width=32), specials, st.sampled_from([0., 1e6, -1e6, 3e38, 1e20]))

def per_image(a): return a.reshape(a.shape[0], int(np.prod(a.shape[1:])))

@st.composite
def image_batches(draw):
    "Mostly (N, 3, H, H) cutouts with odd pixels; sometimes the wrong shape, dtype or an all-equal image."
    shape = draw(mostly(st.tuples(st.integers(0, 3), st.integers(1, 12)).map(lambda t: (t[0], 3, t[1], t[1])),
                        hnp.array_shapes(min_dims=1, max_dims=5, min_side=0, max_side=6), 3))
    base = draw(mostly(st.just('noise'), st.sampled_from(['zero', 'const', 'int'])))
    size = int(np.prod(shape))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = {'noise': rng.normal(0.1, 1., size), 'zero': np.zeros(size), 'const': np.full(size, 7.), 'int': rng.integers(-3, 9, size)}[base]
    x = x.astype(draw(st.sampled_from([np.float32, np.float64, np.int16]))) if base != 'int' else x
    x = x.reshape(shape).copy()
    if size and x.dtype.kind == 'f':
        with np.errstate(over='ignore'):                                 # 3e38 and beyond overflow float32 to inf: fine
            for _ in range(draw(st.integers(0, 4))): x.flat[draw(st.integers(0, size - 1))] = draw(pixels)
    return x

@fuzz(300)
@given(x=image_batches(), size=mostly(st.sampled_from([1, 5, 8, 69, 4.0]), st.sampled_from([0, -3, 2.5, np.nan, '8'])),
       beta=mostly(st.sampled_from([10., 3.]), st.sampled_from([0., -1., np.nan, np.inf, '10'])),
       max_abs=mostly(st.sampled_from([1e6, None, 1.]), st.sampled_from([0., -5., np.nan])),
       on_blank=mostly(st.just('flag'), st.sampled_from(['raise', 'skip']), 3))
def test_normalize_and_resize(x, size, beta, max_abs, on_blank):
    before = x.copy()
    a = outcome(normalize_resize, x, size, beta=beta, on_blank=on_blank, max_abs=max_abs)
    n = outcome(normalize_images, x, beta=beta, on_blank=on_blank, max_abs=max_abs)
    assert np.array_equal(x, before, equal_nan=True), 'the input must not change'
    if a is not None:
        out, flags = a
        assert np.isfinite(out).all() and (np.abs(out) <= 1 + 1e-6).all()
        assert n is not None and np.array_equal(flags, n[1])
        assert np.array_equal(out, resize_images(n[0], size))           # one pass = the two steps, bit for bit
        odd = per_image((~np.isfinite(x)) | (np.abs(x) >= (max_abs or np.inf))).any(1)
        assert (flags[odd] != 0).all()                                    # NaN/inf/saturated pixels never pass unflagged

@fuzz(80)
@given(x=image_batches(), orientation=st.booleans(), meta_rows=st.sampled_from([None, 0, 1, 2, 3]))
def test_preprocess_images_arrays(x, orientation, meta_rows):
    meta = None if meta_rows is None else {'z': np.arange(meta_rows, dtype=float)}
    s = outcome(preprocess_images, x, meta=meta, size=8, orientation=orientation, n_workers=1)
    if s is not None:
        assert np.isfinite(s.images).all() and len(s) == len(x) and len(s.meta) == len(x)
        blank = per_image(np.where(np.isfinite(x) & (np.abs(x) < 1e6), x, 0).astype(float)).max(1, initial=-np.inf) <= 0
        assert ((s.flags[blank] & int(ImageFlag.BLANK)) != 0).all()

cutout_units = mostly(st.sampled_from([None, 'nanomaggy', 'nanomaggies', 'Jy', 'nJy', 'MJy/sr', 'nanomaggy/pix', '']),
                      st.sampled_from(['electron/s', 'DN', 'counts', 'adu', 'mag', '???', 42]), 3)

@fuzz(120)
@given(x=image_batches(), bands=mostly(st.sampled_from(['grz', 'zgr', 'rzg']), st.sampled_from(['gr', 'griz', 'gggg', ''])),
       bunit=cutout_units, cut=rarely(st.integers(0, 9000)), missing=mostly(st.just(False), st.just(True)))
def test_read_legacy_cutouts(tmp_path_factory, x, bands, bunit, cut, missing):
    d = tmp_path_factory.mktemp('cut')
    paths = []
    for i, im in enumerate(x[:2] if x.ndim == 4 else [x]):
        hdr = fits.Header()
        for k, b in enumerate(bands): hdr[f'BAND{k}'] = b
        if bunit is not None: hdr['BUNIT'] = bunit
        p = d/f'c{i}.fits'
        fits.PrimaryHDU(np.asarray(im, np.float32), header=hdr).writeto(p)
        if cut is not None and i == 0: p.write_bytes(p.read_bytes()[:cut])
        paths.append(p)
    if missing: paths.append(d/'not-there.fits')
    if not paths: return
    outcome(read_legacy_cutout, paths[0], must_name=str(paths[0]))
    xs = outcome(read_legacy_cutouts, paths)
    if xs is not None:
        assert xs[0].ndim == 4 and xs[0].shape[1] == 3 and len(xs[1]) == len(paths)
    s = outcome(preprocess_images, paths, size=4, orientation=False)
    if s is not None: assert np.isfinite(s.images).all() and list(s.meta['file']) == [str(p) for p in paths]
