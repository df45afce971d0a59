"""A running app over pyiqa's piqe and this package's metrics on tiny random weights, and photos to send it."""
import pytest
import yaml

APP_METRICS = ['piqe', 'psnr', 'uniqa', 'attiqa', 'depictqa']


@pytest.fixture(scope='session')
def photo_folder(tmp_path_factory):
    """Four small real photographs (PNG) and a folder of them, to be served."""
    from PIL import Image

    from pyiqa_uniqa.data.photos import load_photos

    folder = tmp_path_factory.mktemp('served')
    for name, array in load_photos(['astronaut', 'chelsea', 'coffee', 'rocket']):
        Image.fromarray(array).resize((96, 72)).save(folder / f'{name}.png')
    return folder


@pytest.fixture(scope='session')
def metric_options(tmp_path_factory):
    """A --metric-opt YAML building uniqa, attiqa and depictqa from tiny random weights."""
    from pyiqa_uniqa.testing.tiny_metrics import tiny_metric_options

    folder = tmp_path_factory.mktemp('tiny')
    path = folder / 'metrics.yml'
    path.write_text(yaml.safe_dump({name: {'metric': name, **tiny_metric_options(name, folder)}
                                    for name in ('uniqa', 'attiqa', 'depictqa')}))
    return path


@pytest.fixture(scope='session')
def service(metric_options):
    from pyiqa_uniqa.apps.app.service import ScoringService, ServiceSettings
    from pyiqa_uniqa.apps.metrics.metric_specs import parse_metric_specs

    service = ScoringService(parse_metric_specs(APP_METRICS, str(metric_options)), ServiceSettings(device='cpu'))
    yield service
    service.close()


@pytest.fixture(scope='session')
def app_url(service, photo_folder):
    """The page and both APIs on a free loopback port."""
    from pyiqa_uniqa.apps.app.limits import ServedFolders
    from pyiqa_uniqa.apps.app.server import ServerThread, build_app

    with ServerThread(build_app(service, ServedFolders([photo_folder]))) as url:
        yield url
