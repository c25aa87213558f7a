module github.com/podfwd/podfwd

go 1.26
