from alpine as base
run echo lower
Copy a /b
workdir /w
