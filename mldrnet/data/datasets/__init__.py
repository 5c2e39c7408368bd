"""One loader per on-disk dataset format (FI, EmoSet, Emotion6, ArtPhoto, Abstract, IAPS-Subset, MART): each lists
`(path, label)` pairs and its classes, and names every place it looked when a layout is not found."""
