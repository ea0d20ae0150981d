#!/bin/sh
# Exercice 3 : un registre privé
set -e
docker run -d -p 5000:5000 --restart always --name registry registry:2
docker pull ubuntu
docker tag ubuntu localhost:5000/my-ubuntu
docker push localhost:5000/my-ubuntu
# on supprime les images locales...
docker image remove ubuntu
docker image remove localhost:5000/my-ubuntu
# ... et on récupère l'image depuis notre registre
docker pull localhost:5000/my-ubuntu
