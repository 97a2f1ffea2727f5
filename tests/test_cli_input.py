"""`galnb` under hostile and odd input, run as a user runs it: the console script in a fresh process.

Every refusal must be one line on stderr with exit code 2, leave no OUT, OUT.partial or OUT.lock behind, and leave
every input as it was. The cases are those of issue 18; the closing note of that issue tabulates them."""
import json, shutil, subprocess, sys, warnings
from pathlib import Path
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

GALNB = Path(sys.executable).with_name('galnb')
pytestmark = pytest.mark.skipif(not GALNB.exists(), reason=f'the galnb console script is not installed beside {sys.executable}')

def galnb(*args, cwd=None):
    "Exit code, stdout and stderr of the `galnb` console script."
    r = subprocess.run([str(GALNB), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=600)
    return r.returncode, r.stdout, r.stderr

def snapshot(folder):
    "Every file under `folder` with its bytes: to show that nothing the user gave changed."
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(Path(folder).rglob('*')) if p.is_file()}

def refused(code, err, out, contains):
    "A refusal as galnb promises it: exit 2, one line naming the problem, nothing left behind."
    assert code == 2, (code, err)
    lines = [l for l in err.strip().splitlines() if l.strip()]
    assert len(lines) == 1, err
    assert contains in lines[0], lines[0]
    out = Path(out)
    for p in (out.with_name(out.name + '.partial'), out.with_name(out.name + '.lock')): assert not p.exists(), p
    return lines[0]

@pytest.fixture(scope='module')
def survey(tmp_path_factory):
    "40 mock DJA spectra with a redshift table, and 30 mock Legacy Survey cutouts with a property table."
    from galnb.mocks import mock_spectra, write_dja_spectra
    from galnb.mock_images import mock_images, write_legacy_cutouts
    d = tmp_path_factory.mktemp('survey')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        sp, st = mock_spectra(40, seed=7)
    paths = write_dja_spectra(sp, d/'dja')
    Table({'file': [p.name for p in paths], 'z': st['z']}).write(d/'dja'/'z.csv')
    im, it = mock_images(30, seed=8)
    cpaths = write_legacy_cutouts(im, d/'legacy')
    Table({'file': [Path(p).name for p in cpaths], 'redshift': it['redshift'], 'log_mass': it['log_mass_obs'],
           'log_mass_err': it['log_mass_err'], 'log_sfr': it['log_sfr_obs'], 'log_sfr_err': it['log_sfr_err']}).write(d/'props.ecsv')
    return dict(dir=d, spectra=[Path(p) for p in paths], z=d/'dja'/'z.csv', zt=Table.read(d/'dja'/'z.csv'),
                cutouts=[Path(p) for p in cpaths], props=d/'props.ecsv')

def spectra_args(s, z_table=None, files=None):
    return ['spectra', *(files or s['spectra']), '--z-table', z_table or s['z'], '--no-bar']

def test_overwrite_never_deletes_the_users_data(survey):
    "The issue's worst case: --out pointing at the data folder, with --overwrite."
    data = survey['dir']/'dja'; before = snapshot(data)
    code, _, e = galnb(*spectra_args(survey), '--out', data, '--overwrite')
    refused(code, e, data, 'not a galnb run folder')
    assert snapshot(data) == before

def test_overwrite_spares_added_files_and_inputs(survey, tmp_path):
    from galnb.spectral_vae import SpectralVAE, save_spectral_vae
    run = tmp_path/'run'; run.mkdir()
    (run/'.galnb-run.json').write_text(json.dumps(dict(galnb_run='0.0.1', files=['metrics.json', 'm.pth', 'm.json'])))
    (run/'metrics.json').write_text('{}'); save_spectral_vae(SpectralVAE(n_in=100), run/'m')
    (run/'my_notes.txt').write_text('mine')
    code, _, e = galnb(*spectra_args(survey), '--out', run, '--overwrite')
    refused(code, e, run, 'my_notes.txt')
    (run/'my_notes.txt').unlink()
    code, _, e = galnb(*spectra_args(survey), '--model', run/'m', '--out', run, '--overwrite')
    refused(code, e, run, 'input of this run')
    assert sorted(p.name for p in run.iterdir()) == ['.galnb-run.json', 'm.json', 'm.pth', 'metrics.json']

def test_second_run_on_the_same_out_refused_at_once(survey, tmp_path):
    "While one run holds OUT.lock, a second one on the same --out stops at once and does not touch the first's OUT.partial."
    from galnb.cli import RunDir
    out = tmp_path/'run'
    with RunDir(out) as first:
        (first/'latents.npy').write_text('first run at work')
        code, _, e = galnb(*spectra_args(survey), '--out', out)
        assert code == 2 and 'another galnb run is writing' in e, e
        assert (first/'latents.npy').read_text() == 'first run at work'
    assert not out.exists() and not (tmp_path/'run.partial').exists()

@pytest.mark.parametrize('edit, contains', [
    ('duplicate', 'all match'),            # a second row for a file, e.g. a wrong z appended: no "last row wins"
    ('empty', 'is empty'),
    ('text', 'not a number'),
    ('missing_row', 'no row for 1 of the files'),
])
def test_redshift_table_errors_name_file_and_row(survey, tmp_path, edit, contains):
    zt = Table(survey['zt'], copy=True); zt['z'] = zt['z'].astype(str)
    if edit == 'duplicate': zt.add_row([zt['file'][3], '9.5'])
    if edit == 'empty': zt['z'][5] = ''
    if edit == 'text': zt['z'][5] = 'high'
    if edit == 'missing_row': zt.remove_row(0)
    zt.write(tmp_path/'z.csv')
    code, _, e = galnb(*spectra_args(survey, tmp_path/'z.csv'), '--out', tmp_path/'run')
    line = refused(code, e, tmp_path/'run', contains)
    assert '.spec.fits' in line and (edit == 'missing_row' or 'row' in line)
    assert not (tmp_path/'run').exists()

def test_same_name_in_two_folders(survey, tmp_path):
    "Two inputs named alike: a table of bare names is ambiguous and refused; with their folders it matches."
    a, b = tmp_path/'a', tmp_path/'b'; a.mkdir(); b.mkdir()
    f = survey['spectra'][0]; shutil.copy(f, a/f.name); shutil.copy(f, b/f.name)
    Table({'file': [f.name], 'z': [5.0]}).write(tmp_path/'z.csv')
    code, _, e = galnb(*spectra_args(survey, tmp_path/'z.csv', [a/f.name, b/f.name]), '--out', tmp_path/'run')
    refused(code, e, tmp_path/'run', 'matches both')

def test_every_spectrum_rejected(survey, tmp_path):
    "Spectra with no usable signal anywhere (noise around zero): nothing can be normalised, so the run is refused."
    from galnb.preprocess import read_dja_spectra
    from galnb.mocks import write_dja_spectra
    rng = np.random.default_rng(0)
    sp = read_dja_spectra(survey['spectra'])
    for s in sp: s.flux = (s.err*rng.standard_normal(len(s.flux))).astype(s.flux.dtype)
    files = write_dja_spectra(sp, tmp_path/'noise')
    assert sorted(p.name for p in map(Path, files)) == sorted(p.name for p in survey['spectra'])    # the z table still matches
    code, _, e = galnb(*spectra_args(survey, files=[Path(p) for p in files]), '--out', tmp_path/'run', '--epochs', '1')
    refused(code, e, tmp_path/'run', 'none of the 40 spectra could be preprocessed')
    assert 'no usable signal' in e and not (tmp_path/'run').exists()

@pytest.mark.parametrize('args, contains', [
    (['--seed', '-1'], '--seed'),
    (['--epochs', '0'], '--epochs'),
    (['--gmm-trials', '0'], '--gmm-trials'),
    (['--seed', 'x'], "'x' is not an integer"),
])
def test_bad_arguments(survey, tmp_path, args, contains):
    code, _, e = galnb(*spectra_args(survey), '--out', tmp_path/'run', *args)
    refused(code, e, tmp_path/'run', contains)
    assert not (tmp_path/'run').exists()

def test_output_that_cannot_be_created(survey, tmp_path):
    "Found before any work: a run folder under a file."
    (tmp_path/'afile').write_text('x')
    code, _, e = galnb(*spectra_args(survey), '--out', tmp_path/'afile'/'run')
    refused(code, e, tmp_path/'afile'/'run', 'cannot create the run folder')
    assert (tmp_path/'afile').read_text() == 'x'

def test_missing_and_unreadable_inputs(survey, tmp_path):
    code, _, e = galnb(*spectra_args(survey, files=[*survey['spectra'][:3], tmp_path/'gone.spec.fits']), '--out', tmp_path/'r1')
    refused(code, e, tmp_path/'r1', 'gone.spec.fits')
    code, _, e = galnb(*spectra_args(survey, files=[survey['spectra'][0], survey['spectra'][0]]), '--out', tmp_path/'r2')
    refused(code, e, tmp_path/'r2', 'given twice')
    bad = tmp_path/'bad.spec.fits'; bad.write_bytes(survey['spectra'][1].read_bytes()[:5000])
    Table({'file': [bad.name], 'z': [6.0]}).write(tmp_path/'z.csv')
    code, _, e = galnb(*spectra_args(survey, tmp_path/'z.csv', [bad]), '--out', tmp_path/'r3')
    refused(code, e, tmp_path/'r3', str(bad))

def rewrite_units(src, dest, flux_unit, scale=1.0):
    "A copy of a DJA file whose flux and err columns carry another unit (values multiplied by `scale`)."
    with fits.open(src) as hl:
        t = Table.read(hl['SPEC1D']); prim = hl[0].header
    for c in ('flux', 'err'): t[c] = np.asarray(t[c])*scale; t[c].unit = None
    hl = fits.HDUList([fits.PrimaryHDU(header=prim), fits.table_to_hdu(t)]); hl[1].name = 'SPEC1D'
    for i, c in enumerate(t.colnames, 1):
        if c in ('flux', 'err'): hl[1].header[f'TUNIT{i}'] = flux_unit
    hl.writeto(dest)
    return dest

@pytest.mark.parametrize('unit', ['electron/s', 'DN/s', 'counts', 'furlongs per fortnight'])
def test_units_that_are_not_flux_densities(survey, tmp_path, unit):
    f = rewrite_units(survey['spectra'][0], tmp_path/survey['spectra'][0].name, unit)
    code, _, e = galnb(*spectra_args(survey, survey['z'], [f, *survey['spectra'][1:]]), '--out', tmp_path/'run')
    line = refused(code, e, tmp_path/'run', f.name)
    assert 'flux' in line and 'unit' in line

def test_model_files_that_are_wrong(survey, tmp_path):
    import torch
    from galnb.spectral_vae import SpectralVAE, save_spectral_vae
    save_spectral_vae(SpectralVAE(n_in=100), tmp_path/'small')
    torch.save({'enc': Path('/etc')}, tmp_path/'evil.pth')                 # a pickled Python object, not a tensor
    shutil.copy(tmp_path/'small.json', tmp_path/'evil.json')
    shutil.copy(tmp_path/'small.pth', tmp_path/'mixed.pth')
    meta = json.loads((tmp_path/'small.json').read_text()); meta['config']['n_in'] = 200
    (tmp_path/'mixed.json').write_text(json.dumps(meta))
    for name, contains in (('evil', 'evil.pth'), ('mixed', 'mixed.pth'), ('nothing', 'nothing.json')):
        code, _, e = galnb(*spectra_args(survey), '--model', tmp_path/name, '--out', tmp_path/f'run_{name}')
        refused(code, e, tmp_path/f'run_{name}', contains)
        assert 'Traceback' not in e

def test_images_missing_cutout_and_text_property(survey, tmp_path):
    code, _, e = galnb('images', *survey['cutouts'][:5], tmp_path/'gone.fits', '--props', survey['props'], '--out', tmp_path/'r1')
    refused(code, e, tmp_path/'r1', 'gone.fits')
    pt = Table.read(survey['props']); pt['log_mass'] = pt['log_mass'].astype(str); pt['log_mass'][2] = 'n/a'
    pt.write(tmp_path/'props.ecsv')
    code, _, e = galnb('images', *survey['cutouts'], '--props', tmp_path/'props.ecsv', '--out', tmp_path/'r2', '--epochs', '1',
                       '--sigma', 'redshift=0.02')
    refused(code, e, tmp_path/'r2', "'log_mass' of")
    code, _, e = galnb('images', *survey['cutouts'], '--props', survey['props'], '--out', tmp_path/'r3', '--channels', '8,0')
    refused(code, e, tmp_path/'r3', '--channels')

def test_a_run_then_its_replacement(survey, tmp_path):
    "A real run with a spectrum in scaled f_λ units among the files; refused without --overwrite; replaced with it."
    f = rewrite_units(survey['spectra'][0], tmp_path/survey['spectra'][0].name, '1e-19 erg/(s cm2 Angstrom)', 1.0)
    with fits.open(survey['spectra'][0]) as hl:                   # the same spectrum in f_λ [1e-19 erg s⁻¹ cm⁻² Å⁻¹]
        t = Table.read(hl['SPEC1D'])
    wave_aa = np.asarray(t['wave'])*1e4
    flam = np.asarray(t['flux'])*1e-29*2.99792458e18/wave_aa**2/1e-19
    with fits.open(f, mode='update') as hl: hl['SPEC1D'].data['flux'] = flam; hl['SPEC1D'].data['err'] = np.asarray(t['err'])*flam/np.asarray(t['flux'])
    files = [f, *survey['spectra'][1:]]
    args = [*spectra_args(survey, survey['z'], files), '--epochs', '1', '--gmm-trials', '1', '--out', tmp_path/'run']
    code, o, e = galnb(*args)
    assert code == 0, e
    marker = json.loads((tmp_path/'run'/'.galnb-run.json').read_text())
    assert marker['complete'] and 'clusters.ecsv' in marker['files'] and marker['command'].startswith('galnb spectra')
    ct = Table.read(tmp_path/'run'/'clusters.ecsv')
    assert f.stem.removesuffix('.spec') in list(ct['id'])        # the f_λ file was read, converted and kept
    code, _, e = galnb(*args)
    refused(code, e, tmp_path/'run', '--overwrite')
    code, _, e = galnb(*args, '--overwrite', '--seed', '1')
    assert code == 0, e
    assert json.loads((tmp_path/'run'/'.galnb-run.json').read_text())['command'].endswith('--seed 1')
    assert not list(tmp_path.glob('run.*'))

def test_saturated_and_blank_cutouts_are_flagged_not_lost(survey, tmp_path):
    "One 1e30 pixel must not flatten a cutout, and an all-zero cutout must be named: both stay in the survey, flagged."
    src = survey['cutouts']
    sat, blank = tmp_path/src[0].name, tmp_path/src[1].name
    with fits.open(src[0]) as hl:
        d = hl[0].data.copy(); d[1, 5, 5] = 1e30; fits.PrimaryHDU(d, hl[0].header).writeto(sat)
    with fits.open(src[1]) as hl: fits.PrimaryHDU(np.zeros_like(hl[0].data), hl[0].header).writeto(blank)
    files = [sat, blank, *src[2:]]
    code, _, e = galnb('images', *files, '--props', survey['props'], '--out', tmp_path/'run', '--epochs', '1', '--channels', '8,16,32',
                       '--sigma', 'redshift=0.02')
    assert code == 0, e
    met = json.loads((tmp_path/'run'/'metrics.json').read_text())
    assert met['flagged']['SATURATED'] == 1 and met['flagged']['BLANK'] == 1
    md = (tmp_path/'run'/'report.md').read_text()
    assert sat.name in md and 'SATURATED' in md and blank.name in md and 'BLANK' in md
