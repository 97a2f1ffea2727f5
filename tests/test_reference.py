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
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import NearestNeighbors
from galnb.clustering import Representation, fit_representation, neighbour_vote
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
    (dict(n_neighbors=1), 'n_neighbors must be'),
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


# ---- 'knn' references: the run's representation, its final clusters, placing by the vote of neighbours ----

@pytest.fixture(scope='module')
def knn_run(run, tmp_path_factory):
    "The run as galnb's own runs keep it: 'latents+lines' points, a map of them, final clusters that are no mixture's, as a 'knn' reference."
    rep, pts = fit_representation(run['lat'], run['sset'], 'latents+lines')
    emb = PCA(2, random_state=0).fit_transform(pts)
    clusters = KMeans(2, random_state=0, n_init=4).fit_predict(pts)
    folder = tmp_path_factory.mktemp('runs')/'knn'
    save_reference(folder, run['model'], run['sset'], run['lat'], emb, None, None, reducer_kind='knn', representation=rep, clusters=clusters)
    return dict(rep=rep, pts=pts, emb=emb, clusters=clusters, folder=folder)

def test_knn_round_trip(run, knn_run):
    ref = load_reference(knn_run['folder'])
    assert ref.reducer_kind == 'knn' and ref.gmm is None and ref.n_clusters == 2
    assert ref.representation.kind == 'latents+lines' and ref.representation.to_dict() == knn_run['rep'].to_dict()
    np.testing.assert_allclose(ref.points, knn_run['pts'], rtol=1e-12, atol=0)
    np.testing.assert_array_equal(ref.clusters, knn_run['clusters'])
    np.testing.assert_array_equal(ref.embedding, knn_run['emb'])
    np.testing.assert_array_equal(ref.latents, run['lat'])
    assert {p.name for p in knn_run['folder'].iterdir()} == set(REFERENCE_FILES) - {'reference_mixture.npz'} | {REFERENCE_MANIFEST}
    info = json.loads((knn_run['folder']/REFERENCE_MANIFEST).read_text())
    assert info['representation'] == json.loads(json.dumps(knn_run['rep'].to_dict())) and 'covariance_type' not in info
    assert np.isclose(info['far_distance'], reference._nn_distance_limit(knn_run['pts']))       # measured between points, not latents

def test_knn_places_own_spectra_in_their_clusters(run, knn_run):
    ref = load_reference(knn_run['folder'])
    placed = place_spectra(ref, run['sset'])
    assert np.mean(np.asarray(placed['cluster']) == knn_run['clusters']) >= 0.95
    assert list(placed['nearest']) == list(ref.ids)                # each spectrum is its own nearest neighbour
    p = np.asarray(placed['proba'])
    assert p.shape == (len(run['sset']), 2)
    np.testing.assert_allclose(p.sum(1), 1.)
    np.testing.assert_array_equal(placed['probability'], p.max(1))
    assert np.asarray(placed['position']).shape == (len(run['sset']), 2)

def _vote_by_hand(clusters, idx, dist=None):
    "The rule, one row at a time: most weight (1/distance, or one each); a tie goes to the nearest neighbour whose cluster is tied. (clusters, shares)."
    out, shares = [], []
    for r, row in enumerate(clusters[idx]):
        w = np.ones(len(row)) if dist is None else 1./(dist[r] + 1e-9*(1. + np.median(dist)))
        weight = np.bincount(row, weights=w, minlength=clusters.max() + 1)/w.sum()
        out.append(next(c for c in row if np.isclose(weight[c], weight.max(), rtol=1e-12, atol=0))); shares.append(weight.max())
    return np.array(out), np.array(shares)

def test_knn_placement_follows_the_rule(run, knn_run):
    "New spectra: representation of their latents → 15 nearest reference points → vote; position by `knn_embed` on the run's map."
    from galnb.spectral_vae import encode
    ref = load_reference(knn_run['folder'])
    new = _preprocess(run['new_specs'], run['new_truth'], **ref.preprocess_kwargs())
    placed = place_spectra(ref, new)
    P = knn_run['rep'](encode(run['model'], new), new)
    dist, idx = NearestNeighbors(n_neighbors=15).fit(knn_run['pts']).kneighbors(P)
    want, share = _vote_by_hand(knn_run['clusters'], idx, dist)
    np.testing.assert_array_equal(placed['cluster'], want)
    np.testing.assert_allclose(placed['probability'], share)
    np.testing.assert_allclose(placed['nearest_distance'], dist[:, 0], rtol=1e-9)
    np.testing.assert_allclose(placed['position'], knn_embed(P, knn_run['pts'], knn_run['emb'], 15)[0], rtol=1e-9)
    flags = np.asarray(placed['flags'])
    np.testing.assert_array_equal((flags & PlaceFlag.LOW_PROBABILITY) > 0, share < 0.5)
    np.testing.assert_array_equal((flags & PlaceFlag.FAR_FROM_REFERENCE) > 0, dist[:, 0] > ref.far_distance)

def test_vote_ties_go_to_the_nearest_tied_cluster():
    c = np.array([0, 0, 1, 1, 1, 2])
    idx = np.array([[5, 0, 2, 3, 4], [2, 0, 1, 3, 5], [5, 0, 2, 1, 3]])    # majority 1; tie 0/1, nearest 1; tie 0/1, nearest tied 0
    cluster, share, p = neighbour_vote(c, idx, 4)
    np.testing.assert_array_equal(cluster, [1, 1, 0])
    np.testing.assert_array_equal(cluster, _vote_by_hand(c, idx)[0])
    np.testing.assert_allclose(share, [.6, .4, .4])
    np.testing.assert_allclose(p, [[.2, .6, .2, 0], [.4, .4, .2, 0], [.4, .4, .2, 0]])

def _lines_rep(run, **change):
    rep, _ = fit_representation(run['lat'], run['sset'], 'latents+lines')
    for k, v in change.items(): setattr(rep, k, v)
    return rep

@pytest.mark.parametrize('bad, says', [
    (dict(clusters=None), 'pass clusters='),
    (dict(clusters=np.zeros(5, int)), r'clusters have shape \(5,\)'),
    (dict(clusters='neg'), 'negative'),
    (dict(clusters='half'), 'whole numbers'),
    (dict(embedding=None), "needs the run's map"),
    (dict(representation='lat_mean'), r'latent_mean has shape \(3,\), expected \(16,\)'),
    (dict(representation='nan_scale'), 'line_scale contains NaN/inf'),
    (dict(representation='tiny_std'), r'representation points of \d+ spectra contain NaN/inf'),
    (dict(representation='pca'), "kind 'pca' is not one of"),
    (dict(reducer_kind='umap', gmm='fitted'), "needs reducer_kind='knn'"),
])
def test_knn_save_checks_its_inputs(run, knn_run, tmp_path, bad, says):
    n = len(run['sset'])
    kw = dict(model=run['model'], sset=run['sset'], latents=run['lat'], embedding=knn_run['emb'], gmm=None, reducer_kind='knn',
              representation=knn_run['rep'], clusters=knn_run['clusters'])
    kw.update(bad)
    if isinstance(kw['clusters'], str): kw['clusters'] = np.where(np.arange(n) == 3, -1, 0) if kw['clusters'] == 'neg' else np.full(n, 0.5)
    if isinstance(kw['representation'], str):
        kw['representation'] = {'lat_mean': lambda: _lines_rep(run, latent_mean=np.zeros(3)),
                                'nan_scale': lambda: _lines_rep(run, line_scale=np.full_like(knn_run['rep'].line_scale, np.nan)),
                                'tiny_std': lambda: _lines_rep(run, latent_std=np.full(16, 1e-320)),
                                'pca': lambda: Representation('pca')}[kw['representation']]()
    if kw['gmm'] == 'fitted':                                # a mixture whose predictions are not the run's final clusters
        kw['gmm'] = GaussianMixture(2, random_state=1).fit(knn_run['emb']); kw['clusters'] = 1 - kw['gmm'].predict(knn_run['emb'])
    with pytest.raises(GalnbInputError, match=says): save_reference(tmp_path/'r', **kw)
    assert not (tmp_path/'r'/REFERENCE_MANIFEST).exists()

@pytest.mark.parametrize('change, says', [
    (lambda r: r.pop('representation'), 'missing'),
    (lambda r: r.__setitem__('representation', 'latents+lines'), 'a str, not a dict'),
    (lambda r: r['representation'].update(kind='pca'), "kind 'pca' is not one of"),
    (lambda r: r['representation'].update(latent_std=[1.]*3), r'latent_std has shape \(3,\), expected \(16,\)'),
    (lambda r: r['representation'].update(line_center=['a']*3), 'ValueError'),
    (lambda r: r['representation'].update(spin=1), 'TypeError'),
    (lambda r: r['representation'].update(line_weight=None), 'line_weight None is not a finite number'),
])
def test_damaged_representation_entry_is_refused(knn_run, tmp_path, change, says):
    d = tmp_path/'copy'; shutil.copytree(knn_run['folder'], d)
    _rewrite_manifest(d, change)
    with pytest.raises(GalnbInputError, match=says) as e: load_reference(d)
    assert f"{REFERENCE_MANIFEST}: the 'representation' entry is damaged or missing" in str(e.value)

def test_points_that_do_not_fit_the_representation_are_refused(run, knn_run, tmp_path):
    d = tmp_path/'copy'; shutil.copytree(knn_run['folder'], d)
    np.save(d/'reference_points.npy', knn_run['pts'][:, :20], allow_pickle=False); _resign(d, 'reference_points.npy')
    n, dim = len(run['sset']), 16 + len(knn_run['rep'].line_center)
    with pytest.raises(GalnbInputError, match=rf"reference_points.npy: shape \({n}, 20\), expected \({n}, {dim}\) for the 'latents\+lines'"):
        load_reference(d)

def _make_old_style(src, dst):
    "The reference as galnb wrote it before it kept representations: no 'representation' entry, no reference_points.npy."
    shutil.copytree(src, dst); (dst/'reference_points.npy').unlink()
    def strip(info): del info['representation'], info['files']['reference_points.npy']
    _rewrite_manifest(dst, strip)
    return dst

def test_old_style_reference_places_as_before(run, tmp_path):
    "A 'umap' reference from before: latents as points, knn_embed from the latents, the mixture's probabilities — as the old code did."
    from galnb.spectral_vae import encode
    old = load_reference(_make_old_style(run['folder'], tmp_path/'old'))
    assert old.representation == Representation()
    np.testing.assert_array_equal(old.points, run['lat'].astype(np.float64))
    new = _preprocess(run['new_specs'], run['new_truth'], **old.preprocess_kwargs())
    placed = place_spectra(old, new)
    X, dist, idx = knn_embed(encode(run['model'], new), run['lat'], run['emb'], 15)
    np.testing.assert_array_equal(placed['position'], X)
    np.testing.assert_array_equal(placed['proba'], old.gmm.predict_proba(X))
    np.testing.assert_array_equal(placed['nearest_distance'], dist[:, 0])
    now = place_spectra(load_reference(run['folder']), new)    # and as a reference written today with the default representation
    for c in now.colnames: np.testing.assert_array_equal(placed[c], now[c])

def test_old_style_identity_reference_places_as_before(run, tmp_path):
    from galnb.spectral_vae import encode
    d = tmp_path/'latent'
    save_reference(d, run['model'], run['sset'], run['lat'], None, run['gmm_lat'], None, reducer_kind='identity')
    old = load_reference(_make_old_style(d, tmp_path/'old'))
    placed = place_spectra(old, run['sset'])
    np.testing.assert_array_equal(placed['cluster'], run['gmm_lat'].predict(run['lat']))
    lat = run['lat'].astype(np.float64)
    np.testing.assert_array_equal(placed['proba'], old.gmm.predict_proba(lat))
    dist, idx = NearestNeighbors(n_neighbors=1).fit(run['lat']).kneighbors(lat)       # as before: from the float32 latents
    np.testing.assert_array_equal(placed['nearest_distance'], dist[:, 0])
    new = _preprocess(run['new_specs'], run['new_truth'], **old.preprocess_kwargs())
    lat_new = encode(run['model'], new).astype(np.float64)
    dist, idx = NearestNeighbors(n_neighbors=1).fit(run['lat']).kneighbors(lat_new)
    placed = place_spectra(old, new)
    np.testing.assert_array_equal(placed['nearest_distance'], dist[:, 0]); np.testing.assert_array_equal(placed['nearest'], old.ids[idx[:, 0]])
    np.testing.assert_array_equal(placed['proba'], old.gmm.predict_proba(lat_new))

def test_points_listed_without_representation_are_refused(run, tmp_path):
    "A manifest that lists reference_points.npy but lost its representation entry is not taken for an old one."
    d = tmp_path/'copy'; shutil.copytree(run['folder'], d)
    _rewrite_manifest(d, lambda info: info.pop('representation'))
    with pytest.raises(GalnbInputError, match="'representation' entry is damaged or missing: missing"): load_reference(d)
