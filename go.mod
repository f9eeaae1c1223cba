module github.com/eurekad/eurekad

go 1.26
