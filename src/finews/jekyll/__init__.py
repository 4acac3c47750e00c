"""The original 金融消息's Jekyll site, written and read: one package.

:mod:`finews.jekyll.post` is the post format, in both directions and pure (file names,
front matter, the three body shapes, back-links, category pages; :func:`render_post` and
:func:`parse_post` side by side). Its two users are at the edges: ``publish/jekyll.py``
writes an export's files through the one writer, and ``importing.py`` walks a folder and
stores each post as :func:`~finews.jekyll.post.post_raw` makes it, through
``normalize_item`` like any upstream's item.
"""
