"""Run by the projection test inside fraposa-pgsc's side environment (not collected by
pytest): FRAPOSA's own functions (fraposa_pgsc.fraposa 1.0.2, method oadp, dim_ref 10) on a
reference and a study PLINK 1 fileset, in float64 (its command line reads the reference as
float32 and prints 4 decimals, which would hide the comparison), saving the reference and
study PCs as .npy.

    python fraposa_peer.py REF_PREFIX STUDY_PREFIX OUT_PREFIX
"""

import sys

import numpy as np
from fraposa_pgsc import fraposa

DIM_REF = 10


def main(ref: str, study: str, out: str) -> None:
    x, _, _ = fraposa.read_bed(ref, dtype=np.float64)
    x_mean, x_std = fraposa.standardize(x)
    s, v = fraposa.eig_ref(x)[:2]
    dim_stu, dim_online = 2 * DIM_REF, 4 * DIM_REF
    v = v[:, :dim_online]
    pcs_ref = v[:, :DIM_REF] * s[:DIM_REF]
    u = x @ (v / s[:dim_online])
    w, _, _ = fraposa.read_bed(study, dtype=np.int8)
    pcs_stu = fraposa.pca_stu(
        w, x_mean, x_std, "oadp", U=u, s=s, V=v, pcs_ref=pcs_ref,
        dim_ref=DIM_REF, dim_stu=dim_stu, dim_online=dim_online,
    )  # fmt: skip
    np.save(out + "_ref.npy", pcs_ref)
    np.save(out + "_study.npy", pcs_stu)


if __name__ == "__main__":
    main(*sys.argv[1:4])
