package trinotest

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// tpchNations is the TPC-H nation table (25 rows), as dbgen and Trino's tpch
// connector produce it.
var tpchNations = []struct {
	key, region int64
	name, note  string
}{
	{0, 0, "ALGERIA", " haggle. carefully final deposits detect slyly agai"},
	{1, 1, "ARGENTINA", "al foxes promise slyly according to the regular accounts. bold requests alon"},
	{2, 1, "BRAZIL", "y alongside of the pending deposits. carefully special packages are about the ironic forges. slyly special "},
	{3, 1, "CANADA", "eas hang ironic, silent packages. slyly regular packages are furiously over the tithes. fluffily bold"},
	{4, 4, "EGYPT", "y above the carefully unusual theodolites. final dugouts are quickly across the furiously regular d"},
	{5, 0, "ETHIOPIA", "ven packages wake quickly. regu"},
	{6, 3, "FRANCE", "refully final requests. regular, ironi"},
	{7, 3, "GERMANY", "l platelets. regular accounts x-ray: unusual, regular acco"},
	{8, 2, "INDIA", "ss excuses cajole slyly across the packages. deposits print aroun"},
	{9, 2, "INDONESIA", " slyly express asymptotes. regular deposits haggle slyly. carefully ironic hockey players sleep blithely. carefull"},
	{10, 4, "IRAN", "efully alongside of the slyly final dependencies. "},
	{11, 4, "IRAQ", "nic deposits boost atop the quickly final requests? quickly regula"},
	{12, 2, "JAPAN", "ously. final, express gifts cajole a"},
	{13, 4, "JORDAN", "ic deposits are blithely about the carefully regular pa"},
	{14, 0, "KENYA", " pending excuses haggle furiously deposits. pending, express pinto beans wake fluffily past t"},
	{15, 0, "MOROCCO", "rns. blithely bold courts among the closely regular packages use furiously bold platelets?"},
	{16, 0, "MOZAMBIQUE", "s. ironic, unusual asymptotes wake blithely r"},
	{17, 1, "PERU", "platelets. blithely pending dependencies use fluffily across the even pinto beans. carefully silent accoun"},
	{18, 2, "CHINA", "c dependencies. furiously express notornis sleep slyly regular accounts. ideas sleep. depos"},
	{19, 3, "ROMANIA", "ular asymptotes are about the furious multipliers. express dependencies nag above the ironically ironic account"},
	{20, 4, "SAUDI ARABIA", "ts. silent requests haggle. closely express packages sleep across the blithely"},
	{21, 2, "VIETNAM", "hely enticingly express accounts. even, final "},
	{22, 3, "RUSSIA", " requests against the platelets use never according to the quickly regular pint"},
	{23, 3, "UNITED KINGDOM", "eans boost carefully special requests. accounts are. carefull"},
	{24, 1, "UNITED STATES", "y final packages. slow foxes cajole quickly. quickly silent platelets breach ironic accounts. unusual pinto be"},
}

// tpchRegions is the TPC-H region table (5 rows).
var tpchRegions = []struct {
	key        int64
	name, note string
}{
	{0, "AFRICA", "lar deposits. blithely final packages cajole. regular waters are final requests. regular accounts are according to "},
	{1, "AMERICA", "hs use ironic, even requests. s"},
	{2, "ASIA", "ges. thinly even pinto beans ca"},
	{3, "EUROPE", "ly final courts cajole furiously final excuse"},
	{4, "MIDDLE EAST", "uickly special accounts cajole carefully blithely close requests. carefully final asymptotes haggle furiousl"},
}

// tpchTinyCustomers is the row count of tpch.tiny.customer (scale 0.01).
const tpchTinyCustomers = 1500

// customerRow is one generated tpch.tiny.customer row.
type customerRow struct {
	custkey, nationkey                     int64
	name, address, phone, segment, comment string
	acctbal                                float64
}

var (
	marketSegments = []string{"AUTOMOBILE", "BUILDING", "FURNITURE", "HOUSEHOLD", "MACHINERY"}
	commentWords   = strings.Fields("furiously regular deposits sleep slyly ironic accounts haggle carefully final packages cajole blithely express requests nag quickly pending theodolites")
)

const addressChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789,. "

// tpchCustomers generates tpch.tiny.customer deterministically: the same
// 1500 rows on every run, with TPC-H's column names, types and value ranges
// (the values are not dbgen's).
func tpchCustomers() []customerRow {
	rng := rand.New(rand.NewPCG(20260401, 1500))
	rows := make([]customerRow, 0, tpchTinyCustomers)
	for i := int64(1); i <= tpchTinyCustomers; i++ {
		nation := rng.Int64N(25)
		rows = append(rows, customerRow{
			custkey:   i,
			name:      fmt.Sprintf("Customer#%09d", i),
			address:   randomText(rng, addressChars, 10+rng.IntN(30)),
			nationkey: nation,
			phone:     fmt.Sprintf("%02d-%03d-%03d-%04d", nation+10, 100+rng.IntN(900), 100+rng.IntN(900), 1000+rng.IntN(9000)),
			acctbal:   float64(rng.IntN(1099999)-99999) / 100,
			segment:   marketSegments[rng.IntN(len(marketSegments))],
			comment:   randomComment(rng, 117),
		})
	}
	return rows
}

func randomText(rng *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return strings.TrimSpace(string(b))
}

func randomComment(rng *rand.Rand, max int) string {
	var sb strings.Builder
	for sb.Len() < 29+rng.IntN(max-29) {
		if sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(commentWords[rng.IntN(len(commentWords))])
	}
	s := sb.String()
	if len(s) > max {
		s = s[:max]
	}
	return s
}
