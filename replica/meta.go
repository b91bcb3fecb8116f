package replica

import (
	"cmp"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/chorus-data/chorus/internal/pbwire"
)

// Bounds of block metadata.
const (
	// MaxClaims is the largest number of claims one block keeps; beyond it
	// the weakest claims are folded into one claim of CollapsedOwner.
	MaxClaims = 32
	// MaxOwnerLen is the longest claim owner, in bytes.
	MaxOwnerLen = 160
	// MaxReplicas is the largest replication factor a claim may ask for.
	MaxReplicas = 64
	// MaxZones is the largest number of zones of a claim.
	MaxZones = 16
	// MaxZoneLen is the longest zone name, in bytes.
	MaxZoneLen = 64
)

// CollapsedOwner owns the claim into which claims beyond MaxClaims are
// folded. It asks for the most any folded claim asked and never goes
// down: the folded owners can no longer lower their own claims.
const CollapsedOwner = "*"

// ErrBadMeta is wrapped by metadata decoding and validation errors.
var ErrBadMeta = errors.New("invalid block metadata")

// Claim is one owner's request for copies of a block. For a dataset the
// owner is "name@version", so a block shared by several datasets or
// versions carries one claim for each and keeps the largest.
type Claim struct {
	// Owner names who asks, 1..MaxOwnerLen bytes.
	Owner string
	// Seq orders successive claims of one owner: the higher Seq wins (the
	// node API uses the wall clock in milliseconds). Ties are broken by
	// the claim's contents, so merging is deterministic.
	Seq uint64
	// Replicas is the number of copies asked for, 0..MaxReplicas; 0
	// withdraws the owner's claim while still overriding older ones.
	Replicas int
	// Zones lists the zones the copies must cover: sorted, distinct, at
	// most MaxZones names of 1..MaxZoneLen bytes.
	Zones []string
}

// Meta is the replication metadata kept with a block: the claims on it,
// sorted by owner, one per owner. The zero Meta has no claim; such a
// block gets the driver's default replication factor and no zones.
type Meta struct {
	Claims []Claim
}

// IsZero reports whether m has no claim.
func (m Meta) IsZero() bool { return len(m.Claims) == 0 }

// Replicas returns the replication factor m asks for: the largest of its
// claims, or def when no claim asks for any copy.
func (m Meta) Replicas(def int) int {
	r := 0
	for _, c := range m.Claims {
		r = max(r, c.Replicas)
	}
	if r == 0 {
		return def
	}
	return r
}

// Zones returns the union of the zones of m's live claims (those asking
// for at least one copy), sorted, at most MaxZones.
func (m Meta) Zones() []string {
	var out []string
	for _, c := range m.Claims {
		if c.Replicas > 0 {
			out = append(out, c.Zones...)
		}
	}
	return unionZones(out)
}

// Claim returns the claim of owner and whether there is one.
func (m Meta) Claim(owner string) (Claim, bool) {
	i, ok := slices.BinarySearchFunc(m.Claims, owner, func(c Claim, o string) int { return cmp.Compare(c.Owner, o) })
	if !ok {
		return Claim{}, false
	}
	return m.Claims[i], true
}

// unionZones sorts, dedupes and truncates a zone list.
func unionZones(z []string) []string {
	if len(z) == 0 {
		return nil
	}
	z = slices.Clone(z)
	slices.Sort(z)
	z = slices.Compact(z)
	if len(z) > MaxZones {
		z = z[:MaxZones]
	}
	return z
}

// claimWins reports whether a should replace b (same owner).
func claimWins(a, b Claim) bool {
	if a.Seq != b.Seq {
		return a.Seq > b.Seq
	}
	if a.Replicas != b.Replicas {
		return a.Replicas > b.Replicas
	}
	return slices.Compare(a.Zones, b.Zones) > 0
}

// joinCollapsed joins two claims of CollapsedOwner: the most copies, the
// union of zones, the latest Seq. Joining is commutative, associative and
// idempotent.
func joinCollapsed(a, b Claim) Claim {
	return Claim{
		Owner:    CollapsedOwner,
		Seq:      max(a.Seq, b.Seq),
		Replicas: max(a.Replicas, b.Replicas),
		Zones:    unionZones(append(slices.Clone(a.Zones), b.Zones...)),
	}
}

// Merge returns the union of a and b: for each owner the winning claim
// (highest Seq). Merging is commutative and idempotent, so copies of a
// block converge whatever order they exchange metadata in. Neither input
// is modified.
func Merge(a, b Meta) Meta {
	out := make([]Claim, 0, len(a.Claims)+len(b.Claims))
	i, j := 0, 0
	for i < len(a.Claims) || j < len(b.Claims) {
		switch {
		case j == len(b.Claims) || (i < len(a.Claims) && a.Claims[i].Owner < b.Claims[j].Owner):
			out = append(out, a.Claims[i])
			i++
		case i == len(a.Claims) || b.Claims[j].Owner < a.Claims[i].Owner:
			out = append(out, b.Claims[j])
			j++
		default:
			x, y := a.Claims[i], b.Claims[j]
			switch {
			case x.Owner == CollapsedOwner:
				out = append(out, joinCollapsed(x, y))
			case claimWins(y, x):
				out = append(out, y)
			default:
				out = append(out, x)
			}
			i++
			j++
		}
	}
	return collapse(Meta{Claims: out})
}

// collapse folds the weakest claims into one CollapsedOwner claim when m
// has more than MaxClaims.
func collapse(m Meta) Meta {
	if len(m.Claims) <= MaxClaims {
		return m
	}
	var folded Claim
	haveFolded := false
	rest := make([]Claim, 0, len(m.Claims))
	for _, c := range m.Claims {
		if c.Owner == CollapsedOwner {
			folded, haveFolded = c, true
			continue
		}
		rest = append(rest, c)
	}
	// Strongest first: most copies, then owner order.
	slices.SortStableFunc(rest, func(x, y Claim) int {
		if x.Replicas != y.Replicas {
			return cmp.Compare(y.Replicas, x.Replicas)
		}
		return cmp.Compare(x.Owner, y.Owner)
	})
	keep := rest[:MaxClaims-1]
	for _, c := range rest[MaxClaims-1:] {
		c.Owner = CollapsedOwner
		if haveFolded {
			folded = joinCollapsed(folded, c)
		} else {
			folded, haveFolded = joinCollapsed(c, c), true
		}
	}
	out := append(slices.Clone(keep), folded)
	slices.SortFunc(out, func(x, y Claim) int { return cmp.Compare(x.Owner, y.Owner) })
	return Meta{Claims: out}
}

// Equal reports whether m and o hold the same claims.
func (m Meta) Equal(o Meta) bool {
	return slices.EqualFunc(m.Claims, o.Claims, func(a, b Claim) bool {
		return a.Owner == b.Owner && a.Seq == b.Seq && a.Replicas == b.Replicas && slices.Equal(a.Zones, b.Zones)
	})
}

// Validate checks the bounds and ordering rules of m's claims.
func (m Meta) Validate() error {
	if len(m.Claims) > MaxClaims {
		return fmt.Errorf("%w: %d claims (max %d)", ErrBadMeta, len(m.Claims), MaxClaims)
	}
	for i, c := range m.Claims {
		if err := c.Validate(); err != nil {
			return err
		}
		if i > 0 && m.Claims[i-1].Owner >= c.Owner {
			return fmt.Errorf("%w: claims must be sorted by owner and distinct (%q then %q)", ErrBadMeta, m.Claims[i-1].Owner, c.Owner)
		}
	}
	return nil
}

// Validate checks the bounds of one claim.
func (c Claim) Validate() error {
	if c.Owner == "" || len(c.Owner) > MaxOwnerLen {
		return fmt.Errorf("%w: owner must be 1..%d bytes", ErrBadMeta, MaxOwnerLen)
	}
	if c.Replicas < 0 || c.Replicas > MaxReplicas {
		return fmt.Errorf("%w: replicas %d out of range 0..%d", ErrBadMeta, c.Replicas, MaxReplicas)
	}
	if len(c.Zones) > MaxZones {
		return fmt.Errorf("%w: %d zones (max %d)", ErrBadMeta, len(c.Zones), MaxZones)
	}
	for i, z := range c.Zones {
		if z == "" || len(z) > MaxZoneLen {
			return fmt.Errorf("%w: zone must be 1..%d bytes", ErrBadMeta, MaxZoneLen)
		}
		if i > 0 && c.Zones[i-1] >= z {
			return fmt.Errorf("%w: zones must be sorted and distinct", ErrBadMeta)
		}
	}
	return nil
}

// NewMeta returns the metadata holding the one claim c, with c's zones
// sorted and deduplicated. It fails when c is out of bounds.
func NewMeta(c Claim) (Meta, error) {
	c.Zones = unionZones(c.Zones)
	if err := c.Validate(); err != nil {
		return Meta{}, err
	}
	return Meta{Claims: []Claim{c}}, nil
}

// Field numbers of the wire form of Meta:
//
//	message Meta  { repeated Claim claims = 1; }
//	message Claim { bytes owner = 1; uint64 seq = 2; uint32 replicas = 3; repeated bytes zones = 4; }
const (
	fieldMetaClaim     protowire.Number = 1
	fieldClaimOwner    protowire.Number = 1
	fieldClaimSeq      protowire.Number = 2
	fieldClaimReplicas protowire.Number = 3
	fieldClaimZone     protowire.Number = 4
)

// AppendBinary appends m's canonical wire form to b (nothing for the zero
// Meta).
func (m Meta) AppendBinary(b []byte) []byte {
	for _, c := range m.Claims {
		var cb []byte
		cb = protowire.AppendTag(cb, fieldClaimOwner, protowire.BytesType)
		cb = protowire.AppendString(cb, c.Owner)
		if c.Seq != 0 {
			cb = protowire.AppendTag(cb, fieldClaimSeq, protowire.VarintType)
			cb = protowire.AppendVarint(cb, c.Seq)
		}
		if c.Replicas != 0 {
			cb = protowire.AppendTag(cb, fieldClaimReplicas, protowire.VarintType)
			cb = protowire.AppendVarint(cb, uint64(c.Replicas))
		}
		for _, z := range c.Zones {
			cb = protowire.AppendTag(cb, fieldClaimZone, protowire.BytesType)
			cb = protowire.AppendString(cb, z)
		}
		b = protowire.AppendTag(b, fieldMetaClaim, protowire.BytesType)
		b = protowire.AppendBytes(b, cb)
	}
	return b
}

// MarshalBinary returns m's canonical wire form.
func (m Meta) MarshalBinary() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m.AppendBinary(nil), nil
}

// UnmarshalMeta decodes and validates a Meta. Unknown fields are skipped.
func UnmarshalMeta(b []byte) (Meta, error) {
	var m Meta
	r := pbwire.NewReader(b, ErrBadMeta)
	for {
		num, typ, raw, _, ok := r.Next()
		if !ok {
			break
		}
		if num != fieldMetaClaim || typ != protowire.BytesType {
			continue
		}
		if len(m.Claims) >= MaxClaims {
			return Meta{}, fmt.Errorf("%w: more than %d claims", ErrBadMeta, MaxClaims)
		}
		c, err := unmarshalClaim(raw)
		if err != nil {
			return Meta{}, err
		}
		m.Claims = append(m.Claims, c)
	}
	if err := r.Err(); err != nil {
		return Meta{}, err
	}
	if err := m.Validate(); err != nil {
		return Meta{}, err
	}
	return m, nil
}

func unmarshalClaim(b []byte) (Claim, error) {
	var c Claim
	r := pbwire.NewReader(b, ErrBadMeta)
	for {
		num, typ, raw, v, ok := r.Next()
		if !ok {
			break
		}
		switch {
		case num == fieldClaimOwner && typ == protowire.BytesType:
			if len(raw) > MaxOwnerLen {
				return Claim{}, fmt.Errorf("%w: owner", ErrBadMeta)
			}
			c.Owner = string(raw)
		case num == fieldClaimSeq && typ == protowire.VarintType:
			c.Seq = v
		case num == fieldClaimReplicas && typ == protowire.VarintType:
			if v > MaxReplicas {
				return Claim{}, fmt.Errorf("%w: replicas", ErrBadMeta)
			}
			c.Replicas = int(v)
		case num == fieldClaimZone && typ == protowire.BytesType:
			if len(raw) > MaxZoneLen || len(c.Zones) >= MaxZones {
				return Claim{}, fmt.Errorf("%w: zone", ErrBadMeta)
			}
			c.Zones = append(c.Zones, string(raw))
		}
	}
	if err := r.Err(); err != nil {
		return Claim{}, err
	}
	return c, c.Validate()
}

// Hash returns a 64-bit hash of m's canonical form, 0 for the zero Meta.
// Anti-entropy compares it to find copies whose metadata differ.
func (m Meta) Hash() uint64 {
	if len(m.Claims) == 0 {
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write(m.AppendBinary(nil))
	s := h.Sum64()
	if s == 0 {
		s = 1
	}
	return s
}
