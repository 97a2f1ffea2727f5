"""`--reference`: a run folder keeps what placing new spectra needs (galnb.reference) in files that load without running
code, and new spectra land in that run's clusters. A tiny VAE (one epoch on 200 mock spectra) and a 2-d PCA map stand in
for a real run: what is tested is the keeping and the placing, not the quality of the clusters."""
import json, pickle, shutil, warnings
from pathlib import Path
from unittest import mock
import numpy as np
import pytest
import torch
from astropy.table import Table
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture
from galnb.core import GalnbInputError
from galnb.preprocess import preprocess_spectra, rest_frame_grid
from galnb.reference import (REFERENCE_FILES, REFERENCE_MANIFEST, PlaceFlag, knn_embed, load_reference, place_spectra,
                             save_reference)
import galnb.reference as reference

def _preprocess(specs, truth, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')                    # spectra that cannot be normalised are listed in .rejected
        return preprocess_spectra(specs, z=truth['z'], **kw)

@pytest.fixture(scope='module')
def run(tmp_path_factory):
    "A tiny run: VAE, latents, a 2-d map, a 4-component mixture on it and one in the latent space, labels; and new spectra."
    from galnb.mocks import mock_spectra
    from galnb.spectral_vae import spectra_dls, spectral_learner, encode
    specs, truth = mock_spectra(200, seed=0)
    sset = _preprocess(specs, truth)
    learn = spectral_learner(spectra_dls(sset, bs=64, seed=0), patience=None, checkpoint=False, seed=0,
                             path=tmp_path_factory.mktemp('learn'))
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(1, 2e-3)
    lat = encode(learn.model, sset)
    emb = PCA(2, random_state=0).fit_transform(lat).astype(np.float64)
    gmm = GaussianMixture(4, random_state=0).fit(emb)
    gmm_lat = GaussianMixture(3, covariance_type='diag', random_state=0).fit(lat)
    labels = Table({'cluster': np.arange(4), 'label': ['LRD', 'LAE', 'EELG', 'star-forming']})
    folder = tmp_path_factory.mktemp('runs')/'survey'
    save_reference(folder, learn.model, sset, lat, emb, gmm, labels)
    new_specs, new_truth = mock_spectra(40, seed=1, id_prefix='new')
    return dict(model=learn.model, sset=sset, lat=lat, emb=emb, gmm=gmm, gmm_lat=gmm_lat, labels=labels, folder=folder,
                new_specs=new_specs, new_truth=new_truth)

def _copy(run, tmp_path):
    dst = tmp_path/'copy'; shutil.copytree(run['folder'], dst); return dst

def test_round_trip(run):
    ref = load_reference(run['folder'])
    np.testing.assert_array_equal(ref.latents, run['lat'])
    np.testing.assert_array_equal(ref.embedding, run['emb'])
    np.testing.assert_array_equal(ref.clusters, run['gmm'].predict(run['emb']))
    np.testing.assert_allclose(ref.gmm.predict_proba(run['emb']), run['gmm'].predict_proba(run['emb']), atol=1e-10)
    assert ref.labels == {0: 'LRD', 1: 'LAE', 2: 'EELG', 3: 'star-forming'}
    assert ref.config == run['sset'].config and ref.reducer_kind == 'umap'
    np.testing.assert_array_equal(ref.edges, run['sset'].edges)
    want = run['model'].state_dict()
    assert all(torch.equal(v, want[k].cpu()) for k, v in ref.model.state_dict().items())
    assert set(REFERENCE_FILES) | {REFERENCE_MANIFEST} == {p.name for p in run['folder'].iterdir()}

def test_refuses_to_overwrite_unless_asked(run, tmp_path):
    args = (run['model'], run['sset'], run['lat'], run['emb'], run['gmm'], run['labels'])
    with pytest.raises(FileExistsError, match='already exists'): save_reference(run['folder'], *args)
    d = _copy(run, tmp_path)
    save_reference(d, run['model'], run['sset'], run['lat'], None, run['gmm_lat'], None, reducer_kind='identity', overwrite=True)
    ref = load_reference(d)
    assert ref.reducer_kind == 'identity' and ref.gmm.n_components == 3 and ref.labels == {}

def test_training_spectra_land_in_their_own_clusters(run, tmp_path):
    placed = place_spectra(load_reference(run['folder']), run['sset'])
    assert np.mean(np.asarray(placed['cluster']) == run['gmm'].predict(run['emb'])) >= 0.95
    assert set(placed['label']) <= {'LRD', 'LAE', 'EELG', 'star-forming'}
    np.testing.assert_allclose(np.asarray(placed['proba']).sum(1), 1.)
    np.testing.assert_allclose(placed['probability'], np.asarray(placed['proba']).max(1))
    d = tmp_path/'latent'                                   # a latent-space mixture: exactly its own clusters
    save_reference(d, run['model'], run['sset'], run['lat'], None, run['gmm_lat'], None, reducer_kind='identity')
    placed = place_spectra(load_reference(d), run['sset'])
    np.testing.assert_array_equal(placed['cluster'], run['gmm_lat'].predict(run['lat']))
    assert set(placed['label']) == {'unlabelled'}

def test_new_spectra_placed_with_reference_settings(run):
    ref = load_reference(run['folder'])
    new = _preprocess(run['new_specs'], run['new_truth'], **ref.preprocess_kwargs())
    placed = place_spectra(ref, new)
    assert len(placed) == len(new) and list(placed['id']) == list(new.meta['id'])
    assert placed.colnames[:6] == ['id', 'z', 'cluster', 'label', 'probability', 'flags']
    assert np.isin(placed['nearest'], ref.ids).all()
    low = np.asarray(placed['probability']) < 0.5           # flags say what they claim
    assert np.array_equal(low, (np.asarray(placed['flags']) & PlaceFlag.LOW_PROBABILITY) > 0)
    far = np.asarray(placed['nearest_distance']) > ref.far_distance
    assert np.array_equal(far, (np.asarray(placed['flags']) & PlaceFlag.FAR_FROM_REFERENCE) > 0)

def test_far_spectra_are_flagged(run):
    ref = load_reference(run['folder'])
    odd = run['sset'].select(np.arange(3))
    odd.flux = odd.flux + 5*np.abs(odd.flux).max()         # nothing like the reference: far from every reference latent
    assert (np.asarray(place_spectra(ref, odd)['flags']) & PlaceFlag.FAR_FROM_REFERENCE).all()

@pytest.mark.parametrize('change, setting', [
    (dict(softening=2.), 'softening'),
    (dict(window=(1400., 1500.)), 'window'),
    (dict(flux_density='fnu'), 'flux_density'),
    (dict(edges=rest_frame_grid(1100., 6000.)), 'rest-frame grid'),
])
def test_different_preprocessing_is_refused(run, change, setting):
    ref = load_reference(run['folder'])
    new = _preprocess(run['new_specs'][:15], run['new_truth'][:15], **{**ref.preprocess_kwargs(), **change})
    with pytest.raises(GalnbInputError) as e: place_spectra(ref, new)
    msg = str(e.value)
    assert f'{setting}: ' in msg and ' in the reference run' in msg and str(run['folder']) in msg
    assert 'preprocess_kwargs()' in msg                    # says how to preprocess to match
    others = {'softening', 'window', 'flux_density', 'rest-frame grid'} - {setting}
    assert not any(f'{o}: ' in msg for o in others)        # names only what differs

def test_spectra_without_settings_are_refused(run):
    s = run['sset'].select(np.arange(3)); s.config = {}
    with pytest.raises(GalnbInputError, match='no preprocessing settings'): place_spectra(load_reference(run['folder']), s)

def _truncate(p): p.write_bytes(p.read_bytes()[:p.stat().st_size//2])
def _flip(p): b = bytearray(p.read_bytes()); b[len(b)//2] ^= 0xFF; p.write_bytes(bytes(b))

@pytest.mark.parametrize('name', sorted(REFERENCE_FILES))
@pytest.mark.parametrize('damage, says', [(_truncate, 'changed since'), (_flip, 'changed since'), (Path.unlink, 'no such file')])
def test_damaged_file_is_refused_by_name(run, tmp_path, name, damage, says):
    d = _copy(run, tmp_path); damage(d/name)
    with pytest.raises(GalnbInputError, match=f'{name}: {says}'): load_reference(d)

@pytest.mark.parametrize('damage, says', [(_truncate, 'cannot read it as JSON'), (Path.unlink, 'is not a galnb reference')])
def test_damaged_manifest_is_refused(run, tmp_path, damage, says):
    d = _copy(run, tmp_path); damage(d/REFERENCE_MANIFEST)
    with pytest.raises(GalnbInputError, match=says) as e: load_reference(d)
    assert REFERENCE_MANIFEST in str(e.value)

def _rewrite_manifest(d, change):
    info = json.loads((d/REFERENCE_MANIFEST).read_text()); change(info); (d/REFERENCE_MANIFEST).write_text(json.dumps(info))

def _resign(d, name): _rewrite_manifest(d, lambda info: info['files'].__setitem__(name, reference._sha256(d/name)))

def test_inconsistent_files_are_refused(run, tmp_path):
    "Files with valid checksums that do not fit together (e.g. copied from another run) are refused, named."
    d = _copy(run, tmp_path)
    np.save(d/'reference_latents.npy', run['lat'][:10], allow_pickle=False); _resign(d, 'reference_latents.npy')
    with pytest.raises(GalnbInputError, match=r'reference_latents.npy: shape \(10, 16\)'): load_reference(d)
    d2 = tmp_path/'nan'; shutil.copytree(run['folder'], d2)
    with np.load(d2/'reference_mixture.npz') as z: mix = dict(z)
    mix['means'][0, 0] = np.nan; np.savez(d2/'reference_mixture.npz', **mix); _resign(d2, 'reference_mixture.npz')
    with pytest.raises(GalnbInputError, match='reference_mixture.npz: contains NaN'): load_reference(d2)

class _Payload:
    "Unpickling this creates `marker`: proof that code from a file ran."
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (Path.touch, (self.marker,))

def _write_npy(p, x, n): np.save(p, np.array([x]*n, dtype=object), allow_pickle=True)
def _write_npz(p, x, n):
    with open(p, 'wb') as f: np.savez(f, weights=np.array([x]*4, dtype=object), means=np.zeros((4, 2)), covariances=np.zeros((4, 2, 2)))
def _write_pth(p, x, n): torch.save({'encoder.0.0.weight': x}, p)
def _write_pickle(p, x, n): p.write_bytes(pickle.dumps(x))

@pytest.mark.parametrize('name, write', [('reference_ids.npy', _write_npy), ('reference_latents.npy', _write_pickle),
                                         ('reference_mixture.npz', _write_npz), ('spectral_vae.pth', _write_pth)])
def test_pickled_payload_never_runs(run, tmp_path, name, write):
    "A file swapped for a pickle, with the manifest's checksum updated to match: refused, and the pickle's code never runs."
    d, marker = _copy(run, tmp_path), tmp_path/'code-ran'
    write(d/name, _Payload(marker), len(run['sset'])); _resign(d, name)
    with pytest.raises(GalnbInputError, match=name) as e: load_reference(d)
    assert 'refused' in str(e.value) or 'cannot read' in str(e.value)
    assert not marker.exists()

def test_no_pickle_is_ever_loaded(run):
    "Load and place with Python's unpickler disabled: every NumPy read uses allow_pickle=False, every torch read weights_only=True."
    def no_pickle(*a, **kw): raise AssertionError('a pickle was read')
    np_calls, torch_calls, np_load, torch_load = [], [], np.load, torch.load
    def np_spy(*a, **kw): np_calls.append(kw.get('allow_pickle')); return np_load(*a, **kw)
    def torch_spy(*a, **kw): torch_calls.append(kw.get('weights_only')); return torch_load(*a, **kw)
    with mock.patch('numpy.load', np_spy), mock.patch('torch.load', torch_spy), mock.patch('pickle.load', no_pickle), \
         mock.patch('pickle.loads', no_pickle), mock.patch('pickle.Unpickler', no_pickle):
        placed = place_spectra(load_reference(run['folder']), run['sset'])
    assert len(placed) == len(run['sset'])
    assert len(np_calls) >= 5 and all(c is False for c in np_calls), np_calls
    assert torch_calls and all(c is True for c in torch_calls), torch_calls

def test_interrupted_save_leaves_no_reference(run, tmp_path):
    "The manifest is written last and removed first: a save that fails half-way leaves a folder that is refused, not half-read."
    d = _copy(run, tmp_path)
    with mock.patch.object(reference, '_write_npz', side_effect=OSError('disk full')), pytest.raises(OSError, match='disk full'):
        save_reference(d, run['model'], run['sset'], run['lat'], run['emb'], run['gmm'], run['labels'], overwrite=True)
    with pytest.raises(GalnbInputError, match='is not a galnb reference'): load_reference(d)

def test_vae_already_in_the_folder(run, tmp_path):
    "The spectra arm saves the VAE first: the same model is kept, another one is never replaced unasked."
    from galnb.spectral_vae import SpectralVAE, save_spectral_vae
    args = (run['model'], run['sset'], run['lat'], run['emb'], run['gmm'], run['labels'])
    save_spectral_vae(run['model'], tmp_path/'same'/'spectral_vae', preprocessing=run['sset'].config)
    save_reference(tmp_path/'same', *args)
    np.testing.assert_array_equal(load_reference(tmp_path/'same').latents, run['lat'])
    save_spectral_vae(SpectralVAE(**run['model'].config), tmp_path/'other'/'spectral_vae')
    with pytest.raises(FileExistsError, match='holds a different model'): save_reference(tmp_path/'other', *args)

@pytest.mark.parametrize('bad, says', [
    (dict(latents=np.zeros((5, 16))), 'latents have shape'),
    (dict(embedding=np.zeros((200, 3))), 'fitted in 2-d'),
    (dict(reducer_kind='tsne'), 'reducer_kind'),
    (dict(gmm=GaussianMixture(4)), 'not fitted'),
    (dict(labels_table=Table({'k': [0]})), "columns 'cluster' and 'label'"),
])
def test_save_checks_its_inputs(run, tmp_path, bad, says):
    kw = dict(model=run['model'], sset=run['sset'], latents=run['lat'], embedding=run['emb'], gmm=run['gmm'], labels_table=run['labels'])
    if 'embedding' in bad: bad = dict(bad, embedding=bad['embedding'][:len(run['sset'])])
    with pytest.raises(GalnbInputError, match=says): save_reference(tmp_path/'r', **{**kw, **bad})
    assert not (tmp_path/'r'/REFERENCE_MANIFEST).exists()

def test_knn_embed_matches_umap_initialisation():
    "knn_embed is umap's transform initialisation: compare with umap's own functions on random data."
    from umap.umap_ import smooth_knn_dist, compute_membership_strengths, init_graph_transform
    import scipy.sparse
    rng = np.random.default_rng(0)
    ref, new, emb = rng.normal(size=(300, 5)), rng.normal(size=(40, 5)), rng.normal(size=(300, 2))
    pos, dist, idx = knn_embed(new, ref, emb, n_neighbors=15)
    sig, rho = smooth_knn_dist(dist.astype(np.float32), 15.0, local_connectivity=0.0)
    rows, cols, vals, _ = compute_membership_strengths(idx, dist.astype(np.float32), sig, rho, bipartite=True)
    graph = scipy.sparse.coo_matrix((vals, (rows, cols)), shape=(40, 300)).tocsr()
    np.testing.assert_allclose(pos, init_graph_transform(graph, emb.astype(np.float32)), atol=1e-4)
