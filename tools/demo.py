"""`make demo`: galnb's main job on the embedded mock survey — running the stages that are built, and saying
plainly which are not (the `galnb demo` command of galnb.cli replaces this script once the pipeline exists)."""
import importlib, importlib.util, sys

STAGES = [('mocks', '06_mocks', 'the embedded mock survey'),
          ('preprocess', '00_preprocess', 'readers, rest-frame resampling, normalisation, ImageSet/SpectraSet'),
          ('spectral_vae', '01_spectral_vae', 'spectral VAE'),
          ('physics_cvae', '02_physics_cvae', 'physics-informed and vanilla CVAE'),
          ('clustering', '03_clustering', 'UMAP + GMM clustering and labels'),
          ('anomalies', '04_anomalies', 'anomaly search'),
          ('benchmarks', '05_benchmarks', 'benchmark tables'),
          ('cli', 'galnb command', 'the `galnb demo` main job')]

def main():
    import galnb
    print(f'galnb {galnb.__version__}: stages of the main job')
    built = {}
    for mod, nb, what in STAGES:
        ok = importlib.util.find_spec(f'galnb.{mod}') is not None
        built[mod] = ok
        print(f"  {'built    ' if ok else 'NOT BUILT'}  galnb.{mod:<13} ({nb}: {what})")
    if built['cli']:
        from galnb.cli import main as cli_main
        return cli_main(['demo', '--quick'])
    for mod, ok in built.items():
        if ok: importlib.import_module(f'galnb.{mod}')
    print('\nEvery built stage imports cleanly.')
    if not built['mocks']:
        print('The main job needs the embedded mock survey (galnb.mocks), which is not built yet, so it cannot run;'
              ' no results are produced. Run `make test` to exercise what exists.')
    return 0

if __name__ == '__main__': sys.exit(main())
