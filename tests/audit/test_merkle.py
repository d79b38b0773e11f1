"""audit.merkle against trees written out by hand (RFC 9162 §2.1), sizes 1 to 8.

The leaves are the RFC 6962 reference inputs; every expected root and proof below is spelled out
with hashlib alone, so a mistake in the module cannot hide in the expected values.
"""

from __future__ import annotations

import hashlib
import random

import pytest

from audit import merkle

INPUTS = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]


def L(i: int) -> bytes:
    return hashlib.sha256(b"\x00" + INPUTS[i]).digest()


def N(a: bytes, b: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + a + b).digest()


# The tree shapes of RFC 9162: split at the largest power of two below n.
HAND_ROOTS = {
    1: lambda: L(0),
    2: lambda: N(L(0), L(1)),
    3: lambda: N(N(L(0), L(1)), L(2)),
    4: lambda: N(N(L(0), L(1)), N(L(2), L(3))),
    5: lambda: N(N(N(L(0), L(1)), N(L(2), L(3))), L(4)),
    6: lambda: N(N(N(L(0), L(1)), N(L(2), L(3))), N(L(4), L(5))),
    7: lambda: N(N(N(L(0), L(1)), N(L(2), L(3))), N(N(L(4), L(5)), L(6))),
    8: lambda: N(N(N(L(0), L(1)), N(L(2), L(3))), N(N(L(4), L(5)), N(L(6), L(7)))),
}
# Published roots of these inputs (certificate-transparency reference tests), as a second check.
KNOWN_ROOTS = {
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}


def leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(INPUTS[i]) for i in range(n)]


def test_empty_tree_root_is_sha256_of_nothing():
    assert merkle.root([]) == hashlib.sha256(b"").digest()
    assert merkle.root([]).hex().startswith("e3b0c442")


@pytest.mark.parametrize("n", range(1, 9))
def test_root_matches_the_tree_written_by_hand(n):
    assert merkle.root(leaves(n)) == HAND_ROOTS[n]()
    assert merkle.root(leaves(n)).hex() == KNOWN_ROOTS[n]


def test_inclusion_proofs_by_hand_size_7_and_8():
    get7, get8 = merkle.subtree_hasher(leaves(7)), merkle.subtree_hasher(leaves(8))
    # leaf 0 of 8: sibling leaf 1, then node(2,3), then the right half.
    assert merkle.inclusion_proof(0, 8, get8) == [
        L(1),
        N(L(2), L(3)),
        N(N(L(4), L(5)), N(L(6), L(7))),
    ]
    # leaf 6 of 7: it has no sibling at the bottom; node(4,5), then the left half.
    assert merkle.inclusion_proof(6, 7, get7) == [N(L(4), L(5)), HAND_ROOTS[4]()]
    # leaf 5 of 8
    assert merkle.inclusion_proof(5, 8, get8) == [L(4), N(L(6), L(7)), HAND_ROOTS[4]()]
    # leaf 2 of 3
    get3 = merkle.subtree_hasher(leaves(3))
    assert merkle.inclusion_proof(2, 3, get3) == [N(L(0), L(1))]
    assert merkle.inclusion_proof(0, 1, merkle.subtree_hasher(leaves(1))) == []


def test_consistency_proofs_by_hand():
    get8 = merkle.subtree_hasher(leaves(8))
    get7 = merkle.subtree_hasher(leaves(7))
    # RFC 9162 §2.1.4.3 examples, tree of 7 leaves (d0..d6): PROOF(3, D[7]) = [c, d, g, l].
    assert merkle.consistency_proof(3, 7, get7) == [
        L(2),
        L(3),
        N(L(0), L(1)),
        N(N(L(4), L(5)), L(6)),
    ]
    # PROOF(4, D[7]) = [l]
    assert merkle.consistency_proof(4, 7, get7) == [N(N(L(4), L(5)), L(6))]
    # PROOF(6, D[7]) = [i, j, k]
    assert merkle.consistency_proof(6, 7, get7) == [N(L(4), L(5)), L(6), HAND_ROOTS[4]()]
    # 1 → 8: the path of leaf 0
    assert merkle.consistency_proof(1, 8, get8) == [
        L(1),
        N(L(2), L(3)),
        N(N(L(4), L(5)), N(L(6), L(7))),
    ]
    assert merkle.consistency_proof(0, 8, get8) == []
    assert merkle.consistency_proof(8, 8, get8) == []


def test_every_proof_up_to_8_verifies_and_a_changed_one_does_not():
    for n in range(1, 9):
        get = merkle.subtree_hasher(leaves(n))
        top = HAND_ROOTS[n]()
        for i in range(n):
            proof = merkle.inclusion_proof(i, n, get)
            assert merkle.verify_inclusion(i, n, L(i), proof, top), (i, n)
            assert not merkle.verify_inclusion(i, n, L((i + 1) % 8), proof, top)
            if proof:
                bent = [bytes(32), *proof[1:]]
                assert not merkle.verify_inclusion(i, n, L(i), bent, top)
                assert not merkle.verify_inclusion(i, n, L(i), proof[:-1], top)
        for m in range(0, n + 1):
            proof = merkle.consistency_proof(m, n, get)
            old = HAND_ROOTS[m]() if m else merkle.EMPTY_ROOT
            assert merkle.verify_consistency(m, n, old, top, proof), (m, n)
            if 0 < m < n:
                assert not merkle.verify_consistency(m, n, bytes(32), top, proof)
                assert not merkle.verify_consistency(m, n, old, bytes(32), proof)
                assert not merkle.verify_consistency(m, n, old, top, proof[:-1])
                assert not merkle.verify_consistency(m, n, old, top, [*proof, L(0)])


def test_index_out_of_range_is_refused():
    get = merkle.subtree_hasher(leaves(3))
    with pytest.raises(ValueError, match="outside a tree of size 3"):
        merkle.inclusion_proof(3, 3, get)
    with pytest.raises(ValueError, match="no consistency proof"):
        merkle.consistency_proof(4, 3, get)
    assert not merkle.verify_inclusion(3, 3, L(0), [], HAND_ROOTS[3]())


def test_bottom_up_root_equals_recursive_definition_on_random_sizes():
    """The bottom-up build (used for 1M leaves) against the recursive MTH of RFC 9162."""

    def mth(hs):
        if len(hs) == 1:
            return hs[0]
        k = merkle.split_point(len(hs))
        return N(mth(hs[:k]), mth(hs[k:]))

    rng = random.Random(9162)
    for n in [*range(1, 40), 255, 256, 257, 1000]:
        hs = [rng.randbytes(32) for _ in range(n)]
        assert merkle.root(hs) == mth(hs), n
