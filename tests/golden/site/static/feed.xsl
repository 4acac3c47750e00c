<?xml version="1.0" encoding="utf-8"?>
<!-- finews: how a browser that applies XSLT (Firefox, Safari) shows an Atom or RSS feed:
     a page of the site saying what a feed is, with the feed's newest entries. Feed readers
     ignore it. Rendered once per site (SiteRenderer), so links follow site.base_url. -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
  xmlns:atom="http://www.w3.org/2005/Atom" exclude-result-prefixes="atom">
<xsl:output method="html" encoding="utf-8" indent="no" doctype-system="about:legacy-compat"/>
<xsl:template match="/">
<html lang="zh-CN">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<meta name="color-scheme" content="light dark"/>
<meta name="robots" content="noindex"/>
<title><xsl:value-of select="atom:feed/atom:title|rss/channel/title"/> · 订阅源</title>
<link rel="stylesheet" href="/finews/static/site.css?v=13df2142b8"/>
<link rel="icon" href="/finews/static/icon.svg?v=2b69bf2bfd" type="image/svg+xml"/>
</head>
<body>
<header class="masthead">
<div class="wrap masthead-inner">
<a class="brand" href="/finews/">金融消息</a>
<nav class="nav" aria-label="栏目">
<a href="/finews/all/">全部</a>
<a href="/finews/important/">重要</a>
<a href="/finews/day/">按日</a>
<a href="/finews/subscribe/">订阅</a>
</nav>
</div>
</header>
<main id="main" class="wrap">
<div class="feed-preview">
<p class="notice">这是一个<strong>订阅源</strong>，给 RSS 阅读器读的：把浏览器地址栏里的地址复制到阅读器的“添加订阅”里，新消息就会送到阅读器。<a href="/finews/subscribe/">所有订阅源</a></p>
<h1><xsl:value-of select="atom:feed/atom:title|rss/channel/title"/></h1>
<ol class="items">
<xsl:for-each select="atom:feed/atom:entry">
<li class="item">
<time datetime="{atom:published}"><xsl:value-of select="concat(substring(atom:published, 6, 5), ' ', substring(atom:published, 12, 5))"/></time>
<a class="title" href="{atom:link[not(@rel) or @rel='alternate']/@href}"><xsl:value-of select="atom:title"/></a>
<span class="tag"><xsl:value-of select="atom:category/@label"/></span>
</li>
</xsl:for-each>
<xsl:for-each select="rss/channel/item">
<li class="item">
<time><xsl:value-of select="substring(pubDate, 6, 17)"/></time>
<a class="title" href="{link}"><xsl:value-of select="title"/></a>
<span class="tag"><xsl:value-of select="category"/></span>
</li>
</xsl:for-each>
</ol>
</div>
</main>
</body>
</html>
</xsl:template>
</xsl:stylesheet>