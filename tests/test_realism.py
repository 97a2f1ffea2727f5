"""Realism of the mock spectra against real DJA data (galnb.mocks.realism_report); skipped where ../shared/data is absent.

The thresholds are regression guards on measured closeness to real data, not tuned results: before the LRD model,
S/N draw and IGM of galnb 06 were revised, real LRDs were told from mock ones at AUC ≈ 0.9 and sn50 had KS D ≈ 0.25.
"""
import numpy as np
import pytest
from astropy.table import Table
from galnb.mocks import (mock_spectra, spectra_realism, survey_quantities, dja_table_quantities, survey_ks,
                         realism_report, two_sample_auc)
from galnb.core import GalnbInputError

@pytest.fixture(scope='module')
def dja_table(shared_data):
    p = shared_data/'dja_v3_prism_selection.csv'
    if not p.is_file(): pytest.skip(f'{p} not present')
    return Table.read(p, format='ascii.csv')

def test_two_sample_auc_sees_a_difference_and_no_difference():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(50, 30)), rng.normal(size=(400, 30))
    assert all(abs(v - 0.5) < 0.15 for v in two_sample_auc(a, b, seed=2).values())
    a[:, 5:8] += 0.8
    assert all(v > 0.7 for v in two_sample_auc(a, b, seed=2).values())
    with pytest.raises(GalnbInputError, match='same number of columns'): two_sample_auc(a, b[:, :3])

def test_lrd_spectra_realism(lrd_real):
    t = spectra_realism(lrd_real, seed=7)
    r = t[0]
    assert r['population'] == 'lrd' and r['n_real'] == 40 and r['n_real_z'] >= 30 and r['n_mock_z'] >= 400
    # measured closeness to real LRDs: was 0.91 / 0.87 (logistic / trees) on the mock before its LRD revision
    assert r['auc_logistic'] < 0.85 and r['auc_boosted'] < 0.85, t
    assert abs(r['norm1500_mock'] - r['norm1500_real']) <= 0.05, t        # normalised at 1500 Å as often (the target; measured 0.597 vs 0.600)
    assert 0.7 < r['uv_noise_mock']/r['uv_noise_real'] < 1.3, t            # UV noise like the real LRDs'

def test_survey_ks_against_dja(dja_table):
    k = survey_ks(survey_quantities(*mock_spectra(seed=7)), dja_table_quantities(dja_table))
    d = dict(zip(k['quantity'], k['ks']))
    assert d['z'] <= 0.1 and d['sn50'] <= 0.1, k                          # the targets
    assert d['log_L_ha'] <= 0.15, k

def test_realism_report_is_deterministic(dja_table):
    sp, tr = mock_spectra(300, seed=5)
    a = realism_report(table=dja_table, mock=(sp, tr))
    b = realism_report(table=dja_table, mock=(sp, tr))
    assert np.array_equal(a.survey['ks'], b.survey['ks']) and a.spectra is None
    fig = a.plot()
    assert len(fig.axes) == len(a.survey)
