"""A person's path through the platform, in a real browser (Debian's chromium, headless, driven
by Selenium through Debian's chromedriver): sign in to Open WebUI as the bootstrapped admin, pick
the fleet-rag model, ask about an ingested document, and see the answer name that document.
Through the load balancer, as users reach it. Screenshots are kept under artifacts/browser/."""

from __future__ import annotations

from lab_stack import RAG_QUESTION, RAG_SOURCE, SCREENSHOTS, pick_model, sign_in
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait


def test_sign_in_pick_fleet_rag_and_get_an_answer_with_its_source(
    browser: WebDriver, webui_url: str, admin_password: str
) -> None:
    chat_input = sign_in(browser, webui_url, admin_password)

    pick_model(browser, "fleet-rag")

    chat_input.click()
    chat_input.send_keys(RAG_QUESTION)
    chat_input.send_keys(Keys.ENTER)
    WebDriverWait(browser, 180).until(
        ec.text_to_be_present_in_element((By.TAG_NAME, "body"), RAG_SOURCE)
    )
    page = browser.find_element(By.TAG_NAME, "body").text
    assert "every ninety days" in page
    assert RAG_SOURCE in page
    browser.save_screenshot(str(SCREENSHOTS / "rag-answer.png"))
    assert (SCREENSHOTS / "rag-answer.png").stat().st_size > 10_000
