"""The page in a real headless Chromium: upload an image and read its score, compare two, open a table.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them); screenshots of the
three tabs are saved in the test's tmp folder. A page that shows an error fails the test.
"""
import shutil
import time

import pytest

CHROMIUM, DRIVER = shutil.which('chromium'), shutil.which('chromedriver')
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason='needs chromium and chromium-driver (apt)')
WAIT_S = 90


@pytest.fixture(scope='module')
def browser():
    import os

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ['SE_AVOID_STATS'] = 'true'  # selenium would report usage to its own servers
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
                     '--window-size=1400,2000'):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    yield driver
    driver.quit()


def wait_for(driver, check, what):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        errors = shown_errors(driver)
        if errors:
            raise AssertionError(f'the page shows an error while waiting for {what}: {errors}')
        try:
            value = check()
        except Exception:  # noqa: BLE001 - the element is not there yet
            value = None
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f'timed out waiting for {what}')


def shown_errors(driver):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    texts = []
    for element in driver.find_elements(By.CSS_SELECTOR, '.toast-body.error, .error.toast-body'):
        try:
            text = element.text
        except StaleElementReferenceException:  # a closed toast left the page while it was read: it shows nothing
            continue
        if text.strip():
            texts.append(text)
    return texts


def upload(driver, elem_id, path):
    from selenium.webdriver.common.by import By
    driver.find_element(By.CSS_SELECTOR, f'#{elem_id} input[type=file]').send_keys(str(path))


def click(driver, selector):
    from selenium.webdriver.common.by import By
    driver.find_element(By.CSS_SELECTOR, selector).click()


def open_tab(driver, name):
    from selenium.webdriver.common.by import By
    next(b for b in driver.find_elements(By.CSS_SELECTOR, 'button[role=tab]') if b.text.strip() == name).click()


def table_column(driver, elem_id, header):
    """The texts of column ``header`` of the Dataframe ``elem_id``."""
    from selenium.webdriver.common.by import By
    headers = [h.text.strip() for h in driver.find_elements(By.CSS_SELECTOR, f'#{elem_id} thead th')]
    index = next(i for i, h in enumerate(headers) if h.split('\n')[0] == header)
    rows = [row.find_elements(By.CSS_SELECTOR, '[role=gridcell]')
            for row in driver.find_elements(By.CSS_SELECTOR, f'#{elem_id} [role=row]')]
    return [cells[index].text.strip() for cells in rows if cells]


def test_the_three_tabs(browser, app_url, service, photo_folder, tmp_path):
    from selenium.webdriver.common.by import By

    from pyiqa_uniqa.apps.scoring.table import write_table

    image = photo_folder / 'chelsea.png'
    expected = service.score(image)['metrics']
    browser.get(app_url)
    wait_for(browser, lambda: browser.find_element(By.ID, 'score-run'), 'the page')
    assert 'uniqa runs on random or tiny test weights' in browser.find_element(By.ID, 'weights-notes').text

    # Score: upload, read the score, the attributes and the description
    upload(browser, 'score-files', image)
    wait_for(browser, lambda: 'chelsea' in browser.find_element(By.ID, 'score-files').text, 'the upload')
    click(browser, '#score-run')
    shown = wait_for(browser, lambda: table_column(browser, 'score-table', 'piqe'), 'the score table')
    assert float(shown[0]) == expected['piqe']['score']  # the page shows every digit
    assert float(table_column(browser, 'score-table', 'uniqa')[0]) == expected['uniqa']['score']
    assert 'confidence' in browser.find_element(By.ID, 'score-descriptions').text
    browser.save_screenshot(str(tmp_path / 'score.png'))

    # Compare: two images, every metric on both, the verdict in words
    open_tab(browser, 'Compare')
    upload(browser, 'compare-a', photo_folder / 'astronaut.png')
    upload(browser, 'compare-b', photo_folder / 'rocket.png')
    time.sleep(1)
    click(browser, '#compare-run')
    verdict = wait_for(browser, lambda: 'judges' in browser.find_element(By.ID, 'compare-verdicts').text and
                       browser.find_element(By.ID, 'compare-verdicts').text, 'the verdict')
    assert 'depictqa judges image' in verdict
    assert set(table_column(browser, 'compare-table', 'better')) <= {'A', 'B', 'tie', ''}
    browser.save_screenshot(str(tmp_path / 'compare.png'))

    # Explore: open a score table, see its rows, click one for its details
    table = tmp_path / 'scores.csv'
    rows = [{'path': str(path), **{label: service.score(path, metrics=[label])['metrics'][label]['score']
                                   for label in ('piqe', 'uniqa')}, 'error': ''}
            for path in sorted(photo_folder.glob('*.png'))]
    write_table(rows, table)
    open_tab(browser, 'Explore')
    upload(browser, 'explore-file', table)
    time.sleep(1)
    click(browser, '#explore-open')
    wait_for(browser, lambda: '4 rows' in browser.find_element(By.ID, 'explore-summary').text, 'the table')
    paths = wait_for(browser, lambda: table_column(browser, 'explore-table', 'path'), 'the rows')
    best = min(rows, key=lambda row: row['piqe'])  # piqe: lower is better, so its best row comes first
    assert paths[0] == best['path']
    browser.find_elements(By.CSS_SELECTOR, '#explore-table [role=gridcell]')[0].click()
    wait_for(browser, lambda: 'piqe' in browser.find_element(By.ID, 'explore-details').text, 'the row details')
    assert len(browser.find_elements(By.CSS_SELECTOR, '#explore-best img')) >= 1
    browser.save_screenshot(str(tmp_path / 'explore.png'))
    for name in ('score', 'compare', 'explore'):
        assert (tmp_path / f'{name}.png').stat().st_size > 10_000


def test_a_bad_upload_shows_its_message_and_the_page_goes_on(browser, app_url, photo_folder, tmp_path):
    from selenium.webdriver.common.by import By

    fake = tmp_path / 'fake.png'
    fake.write_text('not a picture')
    browser.get(app_url)
    wait_for(browser, lambda: browser.find_element(By.ID, 'score-run'), 'the page')
    upload(browser, 'score-files', fake)
    wait_for(browser, lambda: 'fake' in browser.find_element(By.ID, 'score-files').text, 'the upload')
    click(browser, '#score-run')
    deadline = time.monotonic() + WAIT_S
    while not shown_errors(browser) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert any('fake.png: not an image' in text for text in shown_errors(browser)), shown_errors(browser)
    browser.save_screenshot(str(tmp_path / 'bad_upload.png'))
    for close in browser.find_elements(By.CSS_SELECTOR, '.toast-close'):
        close.click()
    browser.find_element(By.CSS_SELECTOR, '#score-path input, #score-path textarea').send_keys('coffee.png')
    click(browser, '#score-run')
    wait_for(browser, lambda: table_column(browser, 'score-table', 'piqe'), 'a score after the refusal')
