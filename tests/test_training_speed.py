"The fast training path (fused Adam) gives the spectral VAE the weights the reference path (fastai's Adam) gives it."
import warnings
import numpy as np, torch
from galnb.mocks import mock_spectra
from galnb.preprocess import preprocess_spectra
from galnb.spectral_vae import spectra_dls, spectral_learner
from galnb.training import FusedAdam


def _small_set():
    specs, truth = mock_spectra(60, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return preprocess_spectra(specs, z=truth['z'])


def _trained(sset, arch, fused):
    "Weights and optimiser after two one-cycle epochs from seeded weights and batches."
    learn = spectral_learner(spectra_dls(sset, bs=16, seed=0, device='cpu'), arch=arch, patience=None, checkpoint=False,
                             seed=0, fused_adam=fused)
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(2, 2e-3)
    return learn.model.state_dict(), learn.opt


def test_fused_adam_same_weights_as_fastai_adam():
    sset = _small_set()
    for arch in ('galnb', 'paper'):
        (ref, opt_ref), (got, opt_got) = _trained(sset, arch, False), _trained(sset, arch, True)
        assert type(opt_got) is FusedAdam and type(opt_ref) is not FusedAdam
        moved = max(float((ref[k].float() - v.float()).abs().max()) for k, v in _init(sset, arch).items())
        assert moved > 1e-4, 'the weights did not train'
        for k in ref:
            np.testing.assert_allclose(got[k].float().numpy(), ref[k].float().numpy(), rtol=1e-4, atol=1e-5, err_msg=f'{arch}: {k}')


def _init(sset, arch):
    return spectral_learner(spectra_dls(sset, bs=16, seed=0, device='cpu'), arch=arch, patience=None, checkpoint=False, seed=0).model.state_dict()
