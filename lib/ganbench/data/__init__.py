"""The data layer: the synthetic benchmark, dataset containers (folder, zip, TFRecord, HDF5),
downloads, validation of images, and the torch Dataset the training loop reads."""
