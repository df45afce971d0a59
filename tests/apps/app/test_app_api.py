"""Bad requests get a clear API error (JSON and gradio_client), and the server keeps serving."""
import json
import urllib.request

import pytest


def post(url, fields):
    """A multipart POST; fields: name -> bytes (a file, sent as name.png) or str. -> (status, JSON)."""
    from pyiqa_uniqa.apps.app.load_test import multipart

    body, content_type = multipart({name: (f'{name}.png', value) if isinstance(value, bytes) else value
                                    for name, value in fields.items()})
    request = urllib.request.Request(url, body, {'Content-Type': content_type})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def bad_requests(photo_folder):
    from pyiqa_uniqa.testing.bad_images import png_header_only
    return {  # kind: (fields, status, words the message must contain)
        'no image': ({'metrics': 'piqe'}, 400, "no image in field 'image'"),
        'non-image': ({'image': b'just some text'}, 400, 'not an image'),
        'huge image': ({'image': png_header_only(40000, 40000)}, 413, '1,600,000,000 pixels'),
        'unknown metric': ({'image': (photo_folder / 'coffee.png').read_bytes(), 'metrics': 'nosuch'}, 400,
                           "unknown metric 'nosuch'"),
        'outside the served folders': ({'path': '/etc/passwd'}, 403, 'outside the folders this server serves'),
        'climbing out': ({'path': '../../etc/passwd'}, 403, 'outside the folders this server serves'),
    }


def test_bad_requests_are_refused_clearly_and_the_server_goes_on(app_url, photo_folder):
    for kind, (fields, status, words) in bad_requests(photo_folder).items():
        code, answer = post(f'{app_url}/api/score', fields)
        assert (code, kind) == (status, kind) and words in answer['error'], (kind, answer)
    code, answer = post(f'{app_url}/api/score', {'path': 'coffee.png', 'metrics': 'piqe,attiqa'})
    assert code == 200 and answer['metrics']['piqe']['score'] > 0
    assert set(answer['metrics']['attiqa']['attributes']) == {'sharpness', 'brightness', 'contrast', 'colorfulness',
                                                             'noisiness'}


def test_no_file_is_served_by_path(app_url, photo_folder, tmp_path, monkeypatch):
    """Gradio's file route gives out no file by its path: not the served photos, not the working folder's."""
    secret = tmp_path / 'secret.txt'
    secret.write_text('private')
    monkeypatch.chdir(tmp_path)
    for path in (secret, photo_folder / 'coffee.png', 'secret.txt'):
        try:
            with urllib.request.urlopen(f'{app_url}/gradio_api/file={path}', timeout=30) as response:
                status = response.status
        except urllib.error.HTTPError as err:
            status = err.code
        assert status in (403, 404), path


def test_upload_and_served_path_give_the_same_scores(app_url, photo_folder):
    image = photo_folder / 'chelsea.png'
    _, uploaded = post(f'{app_url}/api/score', {'image': image.read_bytes()})
    _, named = post(f'{app_url}/api/score', {'path': str(image)})
    assert uploaded['metrics'] == named['metrics']
    assert uploaded['metrics']['psnr'] == {'error': 'full-reference metric: give a reference image'}


def test_compare_over_http_and_gradio_client(app_url, photo_folder):
    from gradio_client import Client, handle_file

    a, b = photo_folder / 'astronaut.png', photo_folder / 'rocket.png'
    code, answer = post(f'{app_url}/api/compare', {'a': a.read_bytes(), 'b': b.read_bytes(), 'metrics': 'piqe,depictqa'})
    assert code == 200 and answer['metrics']['piqe']['better'] in ('A', 'B')
    assert answer['verdicts']['depictqa']['answer'] in ('Image A', 'Image B')
    client = Client(app_url, verbose=False)
    via_client = client.predict(handle_file(str(a)), handle_file(str(b)), None, 'piqe', api_name='/compare')
    assert via_client['metrics']['piqe'] == answer['metrics']['piqe']
    scored = client.predict(handle_file(str(a)), None, '', api_name='/score')
    assert scored['metrics']['piqe']['score'] == answer['metrics']['piqe']['A']
    with pytest.raises(Exception, match='not an image'):
        client.predict(handle_file(__file__), None, '', api_name='/score')
    assert client.predict(handle_file(str(b)), None, 'piqe', api_name='/score')['metrics']['piqe']['score'] == \
        answer['metrics']['piqe']['B']


def test_upload_byte_limit(service, photo_folder):
    from pyiqa_uniqa.apps.app.limits import RequestLimits, TooLargeError

    with pytest.raises(TooLargeError, match='more than the .* MiB'):
        RequestLimits(max_bytes=100).check_image(photo_folder / 'coffee.png', 'coffee.png')


def test_the_load_test_checks_every_answer(app_url, photo_folder):
    from pyiqa_uniqa.apps.app.load_test import run_load, sample_images

    figures, problems = run_load(app_url, sample_images(str(photo_folder)), ['piqe'], clients=4, requests=12)
    assert problems == [] and figures['answered'] + figures['rejected_busy'] == 12 and figures['answered'] > 0
    assert figures['p50_ms'] <= figures['p99_ms']
