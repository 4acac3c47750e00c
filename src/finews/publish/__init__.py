"""Publishers: read-only consumers of normalised items that write files or serve pages.

``writer`` is the one place that writes publisher output (atomic, at most once per path);
``jekyll`` exports items as the original 金融消息 site's Jekyll posts, byte for byte.
"""
