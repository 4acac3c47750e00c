"""Crafted Jekyll post files for ``finews import jekyll``: hostile front matter, bodies,
encodings and file names, beside clean posts that must be imported."""

from __future__ import annotations

from pathlib import Path

from hostile.corpus import CANARY, SENTINEL

_J = "window.__hx_pwned=1"


def _post(
    title: str, body: str, *, date: str = "2026-09-01 10:00:00 +0800", extra: str = ""
) -> str:
    return (
        f'---\nlayout: post\ntitle: "{title}"\ndate: {date}\ncategories: hxcraft\n'
        f"tags: 对抗新闻\n{extra}---\n{body}\n\n<https://news.invalid/craft>\n\n"
        "[返回对抗新闻](//finews.withounder.com/category/hxcraft.html)｜"
        "[返回首页](//finews.withounder.com/)"
    )


#: (file name, content) of the hostile posts; str is written as UTF-8, bytes as they are
def hostile_posts(canary: Path) -> list[tuple[str, str | bytes]]:
    """The crafted hostile posts (``canary``: a local file an include may try to read)."""
    laughs = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{c}: &{c} [{','.join(['*' + p] * 9)}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    return [
        (
            "2026-09-01-hxc-script.md",
            _post("脚本", f"<script>{_J}</script><img src=x onerror={_J}>"),
        ),
        ("2026-09-01-hxc-ial.md", _post("属性", '正文\n{: onfocus="alert(1)" autofocus}')),
        ("2026-09-01-hxc-liquid.md", _post("液体", f"{{% include {canary} %}}{{{{ site }}}}")),
        ("2026-09-01-hxc-yaml-laughs.md", "---\n" + laughs + "layout: post\ntitle: x\n---\n正文"),
        (
            "2026-09-01-hxc-yaml-python.md",
            "---\nlayout: post\ntitle: !!python/object/apply:os.system ['touch /tmp/hx-yaml']\n"
            "categories: hxcraft\n---\n正文",
        ),
        ("2026-09-01-hxc-no-front.md", "只有正文，没有头信息。"),
        ("2026-09-01-hxc-only-dashes.md", "---\n---\n"),
        ("2026-09-01-hxc-unclosed.md", '---\nlayout: post\ntitle: "未闭合\n'),
        ("2026-09-01-hxc-gbk.md", _post("国标编码", "正文").encode("gbk")),
        ("2026-09-01-hxc-utf16.md", _post("十六位", "正文").encode("utf-16")),
        ("2026-09-01-hxc-binary.md", bytes(range(256)) * 20),
        ("2026-09-01-hxc-empty.md", b""),
        ("2026-09-01-hxc-huge.md", _post("巨大", "<p>" + "很长的正文。" * 200_000 + "</p>")),
        ("2026-09-01-hxc-title-break.md", _post('"\n<script>alert(1)</script>', "正文")),
        ("2026-09-01-hxc-bad-date.md", _post("坏日期", "正文", date="2026-13-45 99:99:99 +9999")),
        ("2026-09-01-hxc-text-date.md", _post("文字日期", "正文", date="NaN")),
        ("2026-09-01-hxc-js-link.md", _post("链接", "[点](javascript:alert(1)) <javascript:x>")),
        ("2026-09-01-CON.md", _post("保留名", "正文")),
        ("2026-09-01-..md", _post("点点", "正文")),
        ("2026-09-01-" + "长" * 80 + ".md", _post("长文件名", "正文")),
        ("2026-09-01-hxc-bidi\u202e.md", _post("双向\u202e", "正文\u202e")),
        ("0000-00-00-hxc-zero-date.md", _post("零日期", "正文")),
        ("nodate.md", _post("无日期文件名", "正文")),
        (
            "2026-09-01-hxc-category.html",
            '---\nlayout: category\ncategory: ../../x\ntag: "<script>"\n---',
        ),
        # dates at the ends of the calendar and a NUL: skipped or cleaned, never a stop
        (
            "9999-12-31-hxc-year-9999.md",
            _post("年份九九九九", "正文", date="9999-12-31 20:00:00 +0800"),
        ),
        ("0001-01-01-hxc-year-1.md", _post("年份一", "正文", date="0001-01-01 08:00:00 +0800")),
        ("2026-09-01-hxc-nul.md", _post("空字符\x00标题", "正文\x00")),
    ]


def hostile_posts_awaiting() -> dict[str, list[tuple[str, str]]]:
    """Crafted posts whose import needs a fix not merged yet, by branch (none today)."""
    return {}


def clean_posts() -> list[tuple[str, str]]:
    """Clean posts among the hostile ones: each must be imported."""
    return [
        (
            f"2026-09-01-hxc-clean-{n}.md",
            _post(f"{SENTINEL} 导入 {n}", f"<p>{SENTINEL} 正文 {n}</p>"),
        )
        for n in (1, 2)
    ]


def crafted_posts(folder: Path, canary: Path, awaits: str = "") -> set[str]:
    """Write the crafted posts into ``folder``; return the titles that must be imported."""
    files: list[tuple[str, str | bytes]] = [*hostile_posts(canary)]
    files += hostile_posts_awaiting().get(awaits, [])
    files += clean_posts()
    for name, content in files:
        data = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
        (folder / name).write_bytes(data)
    # not files: a folder named like a post, a link to a local file, a link to a folder above
    (folder / "2026-09-01-hxc-folder.md").mkdir()
    (folder / "2026-09-01-hxc-link.md").symlink_to(canary)
    (folder / "hxc-loop").symlink_to(folder, target_is_directory=True)
    return {f"{SENTINEL} 导入 {n}" for n in (1, 2)}


__all__ = ["CANARY", "clean_posts", "crafted_posts", "hostile_posts", "hostile_posts_awaiting"]
