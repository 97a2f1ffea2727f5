"""The interactive map is one self-contained, deterministic HTML fragment: read back with a real HTML parser, every
finite point is one circle whose tooltip names its own row, in its own place, with nothing fetched from elsewhere."""
import re
from html.parser import HTMLParser
import numpy as np
import pytest
from astropy.table import Table
from galnb.explore import interactive_map, show_map, MapHTML, CATEGORY_COLOURS
from galnb.core import GalnbInputError

VOID = {'meta', 'link', 'br', 'img', 'input', 'hr'}

class Fragment(HTMLParser):
    "Circles (attributes + tooltip text), legend entries, caption, style text, every attribute value, and tag nesting."
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.circles, self.legend, self.caption, self.style, self.attrs, self.stack, self.errors = [], [], '', '', [], [], []
        self._text = None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs); self.attrs += [v or '' for v in a.values()]
        if tag == 'circle': self.circles.append({**a, 'tip': ''})
        if tag == 'title' and self.stack and self.stack[-1] == 'circle': self._text = 'tip'
        elif tag == 'li': self.legend.append(''); self._text = 'li'
        elif tag == 'p' and a.get('class') == 'cap': self._text = 'cap'
        elif tag == 'style': self._text = 'style'
        if tag not in VOID: self.stack.append(tag)
    def handle_startendtag(self, tag, attrs):
        self.attrs += [v or '' for _, v in attrs]
    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag: self.errors.append(f'</{tag}> closes {self.stack[-1:]}')
        else: self.stack.pop()
        if tag in ('title', 'li', 'p', 'style'): self._text = None
    def handle_data(self, d):
        if self._text == 'tip': self.circles[-1]['tip'] += d
        elif self._text == 'li': self.legend[-1] += d
        elif self._text == 'cap': self.caption += d
        elif self._text == 'style': self.style += d

def parse(h):
    p = Fragment(); p.feed(h); p.close()
    assert not p.errors and not p.stack, (p.errors, p.stack)
    return p

def tip_fields(tip): return dict(line.split(': ', 1) for line in tip.split('\n'))

def survey(n=300, seed=0):
    rng = np.random.default_rng(seed)
    xy = rng.normal(size=(n, 2))
    xy[[3, 17, 40]] = [[np.nan, 0.], [1., np.inf], [np.nan, np.nan]]
    ids = [f'JADES-{i:05d}' for i in range(n)]
    ids[7] = '<script>alert("x")</script>&<b>'
    t = Table({'id': ids, 'z': rng.uniform(4, 12, n), 'cluster': rng.integers(0, 11, n),
               'label': rng.choice(['LAE', 'EELG', 'star-forming', 'LRD'], n), 'probability': rng.uniform(0.3, 1, n)})
    return xy, t

@pytest.mark.parametrize('color', ['label', 'cluster', 'z', None])
def test_one_circle_per_finite_point_with_its_own_tooltip(color):
    xy, t = survey()
    p = parse(interactive_map(xy, t, color=color))
    finite = np.isfinite(xy).all(1)
    assert len(p.circles) == finite.sum() == len(t) - 3
    row = {str(i): r for r, i in enumerate(t['id'])}
    seen = []
    for c in p.circles:
        f = tip_fields(c['tip'])
        assert list(f) == ['id', 'z', 'cluster', 'label', 'probability']
        r = row[f['id']]; seen.append(r)
        assert float(f['z']) == pytest.approx(t['z'][r], rel=1e-3) and f['label'] == t['label'][r] and int(f['cluster']) == t['cluster'][r]
        c['x'], c['y'] = xy[r]
    assert sorted(seen) == list(np.flatnonzero(finite))            # every finite row once, no dropped row
    # each tooltip sits at its own point: screen x grows with the map's x, screen y falls as the map's y grows
    for key, sign in (('cx', 1), ('cy', -1)):
        pts = sorted(p.circles, key=lambda c: c['x' if key == 'cx' else 'y'])
        scr = [sign * int(c[key]) for c in pts]
        assert scr == sorted(scr)

def test_hostile_ids_are_escaped():
    xy, t = survey()
    h = interactive_map(xy, t)
    assert '<script' not in h and '<b>' not in h.replace('<b>label</b>', '')
    assert '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&lt;b&gt;' in h
    tips = [tip_fields(c['tip'])['id'] for c in parse(h).circles]
    assert '<script>alert("x")</script>&<b>' in tips                    # the reader sees the id as written

def test_nothing_outside_the_page():
    xy, t = survey()
    for color in ('label', 'z'):
        h = interactive_map(xy, t, color=color, title='A "map" <of> things')
        assert not re.search(r'https?://|<script|<link|<img|<iframe|@import|url\(|\bsrc=|\bhref=', h, re.I)
        assert not any('//' in v for v in parse(h).attrs)

def test_css_is_scoped_to_the_map():
    xy, t = survey()
    h = interactive_map(xy, t)
    p = parse(h)
    mid = re.match(r'<div id="(gm[0-9a-f]{10})"', h).group(1)
    rules = [r for r in p.style.split('}') if r.strip()]
    assert rules and all(r.lstrip().startswith(f'#{mid}') for r in rules), [r for r in rules if not r.startswith(f'#{mid}')][:3]

def test_same_input_same_bytes_and_different_input_different_id():
    xy, t = survey()
    a, b = interactive_map(xy, t), interactive_map(xy.copy(), Table(t, copy=True))
    assert a == b
    assert interactive_map(xy, t, max_points=100, seed=3) == interactive_map(xy, t, max_points=100, seed=3)
    xy2 = xy.copy(); xy2[0] += 1
    id_of = lambda h: re.match(r'<div id="(gm[0-9a-f]{10})"', h).group(1)
    assert id_of(interactive_map(xy2, t)) != id_of(a)
    assert id_of(interactive_map(xy, t, color='z')) != id_of(a)

def test_caption_and_legend():
    xy, t = survey()
    p = parse(interactive_map(xy, t, color='label'))
    assert '297 points; 3 of the 300 rows have no finite coordinates and are not drawn' in p.caption
    assert 'no units' in p.caption
    drawn = np.asarray(t['label'])[np.isfinite(xy).all(1)]
    for lab in sorted(set(drawn)):
        assert f'{lab} ({(drawn == lab).sum():,})' in p.legend
    q = parse(interactive_map(xy, t, color='z'))
    zd = np.asarray(t['z'])[np.isfinite(xy).all(1)]
    assert f'{zd.min():.4g}' in q.legend and f'{zd.max():.4g}' in q.legend      # the colour bar's ends
    s = parse(interactive_map(xy, t, max_points=100))
    assert len(s.circles) == 100 and 'a random 100 of the 297 are drawn' in s.caption

def test_other_tables_and_missing_values():
    pd = pytest.importorskip('pandas')
    xy = np.array([[0., 0.], [1., 1.], [2., 0.]])
    df = pd.DataFrame({'id': ['a', 'b', 'c'], 'z': [5., np.nan, 7.], 'cluster': [1, 2, 1]})
    for table in (df, {'id': ['a', 'b', 'c'], 'z': [5., np.nan, 7.], 'cluster': [1, 2, 1]}):
        p = parse(interactive_map(xy, table, color='cluster'))
        tips = {tip_fields(c['tip'])['id']: tip_fields(c['tip']) for c in p.circles}
        assert tips['b']['z'] == '–' and tips['c']['z'] == '7'
        assert [l for l in p.legend if '(' in l] == ['1 (2)', '2 (1)']
    p = parse(interactive_map(xy, df, color='z'))
    assert any(l.startswith('no value (1)') for l in p.legend)

def test_many_categories_keep_distinct_styles():
    n = 40
    xy = np.stack([np.arange(n, dtype=float), np.zeros(n)], 1)
    h = interactive_map(xy, {'id': np.arange(n), 'cluster': np.arange(n) % 15}, color='cluster')
    styles = re.findall(r'\.p \.g\d+\{([^}]*)\}', h)
    assert len(styles) == 15 == len(set(styles))
    assert all(c in h for c in CATEGORY_COLOURS)

@pytest.mark.parametrize('xy, table, kw, msg', [
    (np.zeros((0, 2)), {'id': []}, {}, 'nothing to draw'),
    (np.zeros((2, 3)), {'id': [1, 2]}, {}, 'shape (N, 2)'),
    (np.zeros((3, 2)), {'id': [1, 2]}, {'color': None}, '2 rows for 3 points'),
    (np.zeros((2, 2)), Table(), {'color': None}, ''),                      # a table without columns: fine
    (np.full((2, 2), np.nan), {'id': [1, 2]}, {'color': None}, 'none of the 2 points'),
    (np.zeros((2, 2)), {'id': [1, 2]}, {}, "colour column 'label' is not in the table"),
    (np.zeros((2, 2)), {'id': [1, 2]}, {'color': None, 'hover': ['z']}, "hover column 'z'"),
    ([['a', 'b']], {'id': [1]}, {'color': None}, 'xy must be numbers'),
    (np.zeros((2, 2)), 'not a table', {'color': None}, 'astropy Table'),
])
def test_bad_input(xy, table, kw, msg):
    if not msg:
        assert len(parse(interactive_map(xy, table, **kw)).circles) == 2; return
    with pytest.raises(GalnbInputError, match=re.escape(msg)): interactive_map(xy, table, **kw)

def test_show_map_and_standalone_page(tmp_path):
    xy, t = survey(50)
    m = show_map(xy, t, color='z')
    assert isinstance(m, MapHTML) and m._repr_html_() == str(m) == interactive_map(xy, t, color='z')
    page = m.write(tmp_path/'map.html').read_text(encoding='utf-8')
    assert page.startswith('<!doctype html>') and 'name="viewport"' in page and page.count('<circle') == 47
    assert [f.name for f in tmp_path.iterdir()] == ['map.html']

def test_size_at_report_scale():
    "The report's 2,700 galaxies with five columns stay a few hundred kB (a regression guard on the markup per point)."
    xy, t = survey(2700)
    assert len(interactive_map(xy, t).encode()) < 450_000

def test_clusters_named_in_the_legend():
    xy, t = survey()
    t['label'] = np.array(['LAE', 'EELG', 'LRD', 'star-forming', 'BLAGN', 'psb', 'young', 'dusty', 'highz', 'x', 'y'])[t['cluster']]
    t['label'][0] = 'odd one out'                                      # the commonest label names the cluster, not the first
    p = parse(interactive_map(xy, t, color='cluster', legend_names='label'))
    drawn = np.isfinite(xy).all(1)
    c0 = np.asarray(t['cluster'])[drawn]
    for c, lab in enumerate(['LAE', 'EELG', 'LRD', 'star-forming', 'BLAGN', 'psb', 'young', 'dusty', 'highz', 'x', 'y']):
        assert f'{c}: {lab} ({(c0 == c).sum():,})' in p.legend
    assert 'named by its commonest label' in p.caption
    with pytest.raises(GalnbInputError, match="legend_names column 'name'"): interactive_map(xy, t, color='cluster', legend_names='name')

from hypothesis import HealthCheck, given, settings, strategies as st

@settings(max_examples=150, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.floats(allow_nan=True, allow_infinity=True), st.floats(allow_nan=True, allow_infinity=True),
                          st.text(max_size=12), st.floats(allow_nan=True, allow_infinity=True), st.integers(-3, 3)), max_size=25),
       st.sampled_from(['cluster', 'z', 'id', None]))
def test_any_input_gives_a_map_or_a_clear_error(rows, color):
    "Whatever the coordinates (NaN, inf, ±1e308) and ids (markup, control characters), a well-formed map or a GalnbInputError."
    xy = np.array([r[:2] for r in rows], float).reshape(-1, 2)
    t = {'id': np.array([r[2] for r in rows], dtype=object), 'z': np.array([r[3] for r in rows], float), 'cluster': np.array([r[4] for r in rows], int)}
    try: h = interactive_map(xy, t, color=color)
    except GalnbInputError as e:
        assert str(e).startswith('interactive_map: ') and (len(rows) == 0 or not np.isfinite(xy).all(1).any()), e
        return
    p = parse(h)
    assert len(p.circles) == np.isfinite(xy).all(1).sum()
    assert all(re.fullmatch(r'-?\d+', c[k]) for c in p.circles for k in ('cx', 'cy', 'r'))
    one_line = lambda s: ''.join(' ' if ord(ch) < 32 or ord(ch) == 127 else ch for ch in s)
    want = sorted(one_line(i) for i, ok in zip(t['id'], np.isfinite(xy).all(1)) if ok)
    assert sorted(c['tip'].split('\n')[0][len('id: '):] for c in p.circles) == want
