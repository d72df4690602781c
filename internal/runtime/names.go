package runtime

import (
	"crypto/rand"
	"fmt"
	"math/big"
)

var (
	adjectives = []string{"admiring", "bold", "brave", "clever", "dreamy", "eager", "focused", "gifted", "happy", "jolly", "keen", "loving", "modest", "nifty", "optimistic", "quirky", "relaxed", "serene", "tender", "upbeat", "vibrant", "wizardly", "zealous"}
	scientists = []string{"babbage", "bengio", "curie", "darwin", "euler", "fisher", "gauss", "hinton", "hopper", "kolmogorov", "lecun", "lovelace", "markov", "neumann", "noether", "pearson", "rosenblatt", "shannon", "turing", "vapnik", "wiener"}
)

// randomName is a Docker-style adjective_scientist name; after collisions
// (try > 0) a number is appended.
func randomName(try int) string {
	n := pick(adjectives) + "_" + pick(scientists)
	if try > 0 {
		n = fmt.Sprintf("%s%d", n, try)
	}
	return n
}

func pick(list []string) string {
	i, err := rand.Int(rand.Reader, big.NewInt(int64(len(list))))
	if err != nil {
		return list[0]
	}
	return list[i.Int64()]
}
