"""The check every Chinese journey step runs (tests/browser/untranslated.py): it fails on a page
showing a raw code or an untranslated message, and passes a clean Chinese page."""

from __future__ import annotations

import pytest

from tests.browser.untranslated import assert_translated, catalogue_phrases, findings

CLEAN = """<html lang="zh-CN"><body><main><h1>审核记录</h1>
<p>补贴申请已提交 · 王科长 · 联系 wang@linli.example，营业执照.pdf，Linli 平台</p>
<p>列：phone、birth_date、lives_alone</p>
<p translate="no">flask --app app evaluate --as-of 2026-11-01</p></main></body></html>"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-03 · 王科长 · subsidy_claim.filed", "raw code 'subsidy_claim.filed'"),
        ("账户 resident_clearing 余额", "raw code 'resident_clearing'"),
        ("状态：published", "raw value 'published'"),
        ("发起：cli", "raw value 'cli'"),
        ("试算平衡 Trial balance", "untranslated message 'Trial balance'"),
        ("规则 default rule set", "English text 'default rule set'"),
    ],
)
def test_findings_name_each_raw_code_and_english_message(text, expected):
    assert expected in findings(text)


def test_findings_name_the_stored_codes_given():
    codes = frozenset({"housekeeping", "zichuan-chengli"})
    assert findings("类别：housekeeping", codes=codes) == ["raw value 'housekeeping'"]
    assert findings("社区：zichuan-chengli", codes=codes) == ["raw code 'zichuan-chengli'"]
    assert findings("类别：家政保洁 · 城里社区", codes=codes) == []


def test_findings_pass_chinese_text_and_what_is_legitimately_latin():
    assert catalogue_phrases()  # the catalogue was read
    assert findings("王阿姨 · 13800000001 · wang@linli.example · https://linli.example/rules · 营业执照.pdf · Linli") == []
    assert findings("居家照护（助浴、助洁） ¥60.00 / 小时 · 已预约") == []


def test_the_check_fails_on_a_page_with_a_raw_code(page):
    page.set_content("<html lang='zh-CN'><body><main><h1>审核记录</h1>"
                     "<ul><li>2026-11-03 · 王科长 · <code>programme.created</code></li></ul></main></body></html>")
    with pytest.raises(AssertionError, match=r"programme\.created"):
        assert_translated(page, "a tiny page")


def test_the_check_fails_on_a_page_with_an_untranslated_message(page):
    page.set_content("<html lang='zh-CN'><body><main><h1>账目</h1><p>Platform fees</p></main></body></html>")
    with pytest.raises(AssertionError, match="Platform fees"):
        assert_translated(page, "a tiny page")


def test_the_check_passes_a_clean_chinese_page(page):
    page.set_content(CLEAN)
    assert_translated(page, "a clean page")
