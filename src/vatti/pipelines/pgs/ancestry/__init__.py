"""Genetic-ancestry similarity and score normalisation (the PGS Catalog Calculator's
``--run_ancestry``).

* :mod:`.projection`: the reference PCA and the projection of targets onto it (FRAPOSA's
  online augmentation, decomposition and Procrustes), numpy only;
* :mod:`.similarity`: the most similar reference population of each sample (RandomForest or
  Mahalanobis);
* :mod:`.normalise`: the score within that population (empirical percentile and Z) and the
  PC-regression ``Z_norm1``/``Z_norm2``;
* :mod:`.files`: the edges: reading PCs, ``.psam`` labels and relatedness lists, writing
  ``*_pgs.txt.gz`` and ``*_popsimilarity.txt.gz`` with pgsc_calc's column names;
* :mod:`.run`: the whole analysis on a reference panel, for ``vatti pgs score --ancestry``.

The maths need the ``ancestry`` extra (scikit-learn, scipy), imported lazily by
:func:`.extra.need`.
"""
