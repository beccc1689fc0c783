module github.com/zmtp-go/zmtp

go 1.26
