"""Follow-up over visits (`compare`) and agreement with clinicians' grades (`agreement`).

Qt-free. Modules:

* ``tables``        reading CSV text the way clinicians' files come (BOM, Latin-1, `;`), no pandas
* ``ratings``       long-format grades (target, rater, score, item) and FaceMirror joined as a rater
* ``agreement``     ICC(2,1), ICC(3,1), Pearson, Spearman, Bland-Altman per item (pingouin, lazily)
* ``visits``        one record per recording from output folders or a study.csv (its date and where it
                    comes from, its conditions; the same recording twice, near-identical patient IDs)
* ``visit_order``   recordings grouped into visits (a reused label is never merged) and the visits put
                    in order by one stated rule (own dates, --order, labels, file times last)
* ``trend``         a region's change between visits judged against its MDC95, a weaker-side flip,
                    the conditions that changed
* ``pages``         the shared offline page shell (CSP, print CSS for A4) and inline SVG charts
* ``agreement_page``, ``compare_page``  the two HTML pages
* ``publish``       several files put in place together (temporary names, no overwrite without asking)
* ``commands``      the two CLI commands

pingouin, pandas and scipy (the optional `stats` extra, never in the app bundle) are imported only
inside the functions of ``agreement`` and ``agreement_page``.
"""
