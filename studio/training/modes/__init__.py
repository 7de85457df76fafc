"""What one training step does: supervised and autoencoder (`supervised`), GAN (`gan`)."""
