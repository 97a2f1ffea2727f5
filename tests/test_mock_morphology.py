"Morphology of the image mock (issue #15): arms, flux conservation, dust lanes, determinism, Green Peas among compact star-forming galaxies."
import numpy as np
import pytest
from scipy.spatial import Delaunay
from galnb.mock_images import (mock_images, mock_image_truth, sersic_images, arm_modulation, azimuthal_fourier, convolve_psf,
                               _im_structured, _im_disk_coords)
from galnb.core import GalnbInputError

def _disks(q=(1., 0.5)):
    q = np.asarray(q, float); n = len(q)
    x0, r, th = np.full(n, 40.2), np.full(n, 10.), np.linspace(0.2, 1.1, n)
    return x0, r, q, th, sersic_images(np.ones(n), x0, x0, r, np.ones(n), q, th, size=80)

@pytest.mark.parametrize('pitch', [12., 20., 30.])
def test_arms_raise_m2_and_keep_flux(pitch):
    x0, r, q, th, disk = _disks()
    spiral = disk * (1 + 1.0 * arm_modulation(x0, x0, r, q, th, 2, pitch, size=80))
    np.testing.assert_allclose(spiral.sum((1, 2)), disk.sum((1, 2)), rtol=0.02)
    a2 = lambda im: azimuthal_fourier(im, x0, x0, q, th, 0.6 * r, 1.6 * r, m=2)
    assert (a2(spiral) > 0.15).all() and (a2(spiral) > 2.5 * a2(disk)).all()     # the smooth disk's ~0.07 is pixel-ring noise
    psf = lambda im: convolve_psf(im, np.full(len(im), 4.0))
    if pitch >= 20: assert (a2(psf(spiral)) > 1.3 * a2(psf(disk))).all()       # tightly wound arms blur away at 4 px FWHM

def test_arm_modulation_checks_pitch():
    x0, r, q, th, _ = _disks()
    with pytest.raises(GalnbInputError, match='pitch_angle'): arm_modulation(x0, x0, r, q, th, 2, 0., size=80)

def test_dust_lane_reddens_g_minus_z_along_major_axis():
    t = mock_image_truth(3000, seed=9, size=64, neighbour_frac=0.)
    lane = t[np.asarray(t['dust_lane']) & (t['r_disk_arcsec'] > 1.5)][:6]
    assert len(lane) >= 3
    clean = lane.copy(); clean['dust_lane'] = False
    pix = float(t.meta['pixscale'])
    dusty, plain = _im_structured(lane, 9, 0, 64, pix), _im_structured(clean, 9, 0, 64, pix)
    u, v = _im_disk_coords(lane['x_center'], lane['y_center'], lane['axis_ratio'], lane['orientation'], 64)
    y = np.abs(v * np.asarray(lane['axis_ratio'])[:, None, None])
    mid = (y < 0.7) & (np.abs(u) < (np.asarray(lane['r_disk_arcsec']) / pix)[:, None, None])
    gz = lambda im: -2.5 * np.log10((im[:, 0] * mid).sum((1, 2)) / (im[:, 2] * mid).sum((1, 2)))
    assert (gz(dusty) - gz(plain) > 0.1).all()
    assert (dusty[:, 0].sum((1, 2)) / plain[:, 0].sum((1, 2)) < dusty[:, 2].sum((1, 2)) / plain[:, 2].sum((1, 2))).all()   # g loses more than z

def test_structure_is_deterministic_and_chunking_proof():
    kw = dict(size=48, n_red_spirals=6, n_green_peas=3, n_compact_sf=6)
    a, ta = mock_images(70, seed=5, **kw)
    b, tb = mock_images(70, seed=5, **kw)
    assert np.array_equal(a, b) and all(np.array_equal(np.asarray(ta[c]), np.asarray(tb[c]), equal_nan=ta[c].dtype.kind == 'f') for c in ta.colnames)
    from galnb.mock_images import iter_mock_images
    assert np.array_equal(np.concatenate([x for x, _ in iter_mock_images(70, seed=5, chunk=17, **kw)]), a)
    assert (ta['n_arms'] > 0).any() and (ta['n_clumps'] > 0).any() and np.isfinite(a).all()
    assert not np.array_equal(mock_images(70, seed=6, **kw)[0], a)

@pytest.mark.parametrize('seed', [0, 1])
def test_green_peas_overlap_compact_star_forming(seed):
    t = mock_image_truth(26000, seed=seed)
    pop, mo = np.asarray(t['population']), np.asarray(t['morphology'])
    X = np.stack([t['mag_g'] - t['mag_r'], t['mag_r'] - t['mag_z'], np.log10(t['r_half_arcsec'])], 1)
    inside = Delaunay(X[(mo == 'compact') & (pop == 'normal')]).find_simplex(X[pop == 'green_pea']) >= 0
    assert inside.mean() > 0.5
    assert np.percentile(t['r_half_kpc'][pop == 'green_pea'], 90) < 2.
